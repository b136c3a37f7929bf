"""The rubric, as the kit's own modules import it: it lives with the checks students get."""

from mgkit_checks.course import COURSE
from mgkit_checks.rubric import ASSIGNMENT, BY_ID, OP_TASKS, TASK_IDS, TASKS, TOTAL_POINTS, Task

__all__ = ["ASSIGNMENT", "BY_ID", "COURSE", "OP_TASKS", "TASK_IDS", "TASKS", "TOTAL_POINTS", "Task"]
