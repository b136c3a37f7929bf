"""The rubric, as the kit's own modules read it: it lives with the checks students get.

`rubric.TASK_IDS` (and ASSIGNMENT, BY_ID, COURSE, OP_TASKS, TASKS, TOTAL_POINTS) are the course
in use's, read when asked: see mgkit_checks.rubric.
"""

from mgkit_checks import rubric as _rubric
from mgkit_checks.course import Task

__all__ = ["Task"]  # and the names above, read through __getattr__


def __getattr__(name: str) -> object:
    return getattr(_rubric, name)
