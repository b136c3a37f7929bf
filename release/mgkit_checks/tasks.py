"""Every task's definition by id, the order they are judged in, and the two calls both sides make.

    reports = observe("mul_backward", seed, harness, passed)     # where the student's code runs
    verdict = judge("mul_backward", seed, reports, earlier)      # where the verdict is decided

What the kit needs to know of a task is in its definition (core.Definition): what it imports,
which tasks it needs, its time, the grade's parts it loads. The tables here are derived from
them, for a course (`definitions(course)`), or for the course in use (`tasks.DEFINITIONS`).
"""

from __future__ import annotations

from functools import cache

from . import backward, ops, training
from .core import (
    DEFAULT_SECONDS,
    Definition,
    Harness,
    Verdict,
    case_rng,
    judge_cases,
    observe_cases,
)
from .course import Course, in_use

# the tasks defined in code, in the order they are met; the op tasks come from course.toml
CODE_DEFINITIONS = (*backward.DEFINITIONS, ops.ACCUMULATION_DEFINITION, *training.DEFINITIONS)
CODE_TASKS = tuple(definition.task_id for definition in CODE_DEFINITIONS)


@cache
def definitions(course: Course) -> dict[str, Definition]:
    """The course's tasks (a course may leave out any code task), in the order they are judged:
    each after the tasks it needs, else in the order they are met (the ops, then the code tasks)."""
    chosen = {task.id for task in course.tasks}
    listed = (*ops.definitions(course), *backward.DEFINITIONS, ops.accumulation(course),
              *training.DEFINITIONS)
    return {d.task_id: d for d in _topological(listed) if d.task_id in chosen}


def _topological(listed: tuple[Definition, ...]) -> list[Definition]:
    """Each task after every task it needs; otherwise as listed. A circle is the kit's own bug."""
    known, waiting, order = {d.task_id for d in listed}, list(listed), []
    while waiting:
        placed = {d.task_id for d in order}
        ready = next((d for d in waiting if all(n in placed or n not in known
                                                for n in d.needs)), None)
        if ready is None:
            raise RuntimeError(
                f"the tasks {', '.join(d.task_id for d in waiting)} need each other in a circle")
        order.append(ready)
        waiting.remove(ready)
    return order


def judging_order(course: Course) -> tuple[str, ...]:
    return tuple(definitions(course))


def engine_tasks(course: Course) -> tuple[str, ...]:
    """What training a model on an engine runs of it: the preview's nn and train cases wait for
    these."""
    return tuple(task_id for task_id, definition in definitions(course).items()
                 if definition.trains)


def seconds_for(task_id: str) -> float:
    """How long one task may take, its imports included, on either side."""
    definition = definitions(in_use()).get(task_id)
    return definition.seconds if definition else DEFAULT_SECONDS


def __getattr__(name: str) -> object:
    """DEFINITIONS, JUDGING_ORDER and ENGINE_TASKS of the course in use, read when asked."""
    tables = {
        "DEFINITIONS": definitions,
        "JUDGING_ORDER": judging_order,
        "ENGINE_TASKS": engine_tasks
    }
    if name not in tables:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return tables[name](in_use())


def cases_for(task_id: str, seed: int) -> list[dict]:
    """The task's cases for one seed: the same wherever they are made."""
    return definitions(in_use())[task_id].make_cases(case_rng(task_id, seed))


def observe(task_id: str, seed: int, harness: Harness, passed: frozenset[str]) -> list:
    """Run the task's cases on the student's code (those whose tasks have passed): plain reports."""
    return observe_cases(definitions(in_use())[task_id], cases_for(task_id, seed), harness, passed)


def judge(task_id: str, seed: int, reports: list, earlier: dict[str, Verdict],
          engine_tasks: tuple[str, ...] = ()) -> Verdict:
    """The task's verdict from its reports and the verdicts judged before it."""
    return judge_cases(
        definitions(in_use())[task_id], cases_for(task_id, seed), reports, earlier, engine_tasks)
