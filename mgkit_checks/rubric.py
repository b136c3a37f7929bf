"""The rubric: the course's tasks, their points, titles and stub hints (from course.toml).

Everything that lists tasks reads them from here: the solution markers, the stubs,
the pytest markers, the grading loop, the results and the README's task table. Each name is
the course in use's, read when asked (`rubric.TASK_IDS`), never at import time: bind a name
with `from .rubric import ...` only inside a function, or it keeps the course it first saw.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from .course import Course, Task, in_use


@dataclass(frozen=True)
class Rubric:
    """The course's tasks in the forms the kit reads them."""

    ASSIGNMENT: str
    TASKS: tuple[Task, ...]
    TASK_IDS: tuple[str, ...]
    BY_ID: dict[str, Task]
    TOTAL_POINTS: int
    OP_TASKS: tuple[Task, ...]


@cache
def of(course: Course) -> Rubric:
    tasks = course.tasks
    return Rubric(course.name, tasks, tuple(task.id
                                            for task in tasks), {task.id: task
                                                                 for task in tasks},
                  sum(task.points for task in tasks), tuple(task for task in tasks if task.op))


NAMES = frozenset(Rubric.__dataclass_fields__)


def __getattr__(name: str) -> object:
    if name == "COURSE":
        return in_use()
    if name in NAMES:
        return getattr(of(in_use()), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
