"""The rubric, as the kit's own modules import it: it lives with the checks students get."""

from mgkit_checks.rubric import BY_ID, TASK_IDS, TASKS, TOTAL_POINTS, Task

__all__ = ["BY_ID", "TASK_IDS", "TASKS", "TOTAL_POINTS", "Task"]
