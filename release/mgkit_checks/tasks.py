"""Every task's definition by id, the order they are judged in, and the two calls both sides make.

    reports = observe("mul_backward", seed, harness, passed)     # where the student's code runs
    verdict = judge("mul_backward", seed, reports, earlier)      # where the verdict is decided
"""

from __future__ import annotations

from . import backward, ops, training
from .core import Definition, Harness, Verdict, case_rng, judge_cases, observe_cases
from .rubric import TASK_IDS

DEFINITIONS: dict[str, Definition] = {
    definition.task_id: definition
    for definition in (*ops.DEFINITIONS, *backward.DEFINITIONS, *training.DEFINITIONS)
    if definition.task_id in TASK_IDS  # a course may leave out any task
}

# A task whose cases run another's code is judged after it: the closures before the values used
# twice, the training loop before the zeroing inside it.
JUDGING_ORDER = tuple(task_id for task_id in (*(task.task_id for task in ops.OPS.values()), "topo_sort",
                                             "grad_accumulation", "training_loop", "zero_grad")
                      if task_id in TASK_IDS)
ENGINE_TASKS = tuple(task_id for task_id in ("add_backward", "mul_backward", "pow_backward", "relu_backward",
                                             "topo_sort", "grad_accumulation") if task_id in TASK_IDS)
"""What training a model on an engine runs of it: the preview's nn and train cases wait for these."""


def cases_for(task_id: str, seed: int) -> list[dict]:
    """The task's cases for one seed: the same wherever they are made."""
    return DEFINITIONS[task_id].make_cases(case_rng(task_id, seed))


def observe(task_id: str, seed: int, harness: Harness, passed: frozenset[str]) -> list:
    """Run the task's cases on the student's code (those whose tasks have passed): plain reports."""
    return observe_cases(DEFINITIONS[task_id], cases_for(task_id, seed), harness, passed)


def judge(task_id: str, seed: int, reports: list, earlier: dict[str, Verdict],
          engine_tasks: tuple[str, ...] = ()) -> Verdict:
    """The task's verdict from its reports and the verdicts judged before it."""
    return judge_cases(DEFINITIONS[task_id], cases_for(task_id, seed), reports, earlier, engine_tasks)
