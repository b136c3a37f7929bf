"""The rubric: the course's tasks, their points, titles and stub hints (from course.toml).

Everything that lists tasks reads them from here: the solution markers, the stubs,
the pytest markers, the grading loop, the results and the README's task table.
"""

from __future__ import annotations

from .course import COURSE, Task

ASSIGNMENT: str = COURSE.name
TASKS: tuple[Task, ...] = COURSE.tasks
TASK_IDS: tuple[str, ...] = tuple(task.id for task in TASKS)
BY_ID: dict[str, Task] = {task.id: task for task in TASKS}
TOTAL_POINTS: int = sum(task.points for task in TASKS)
OP_TASKS: tuple[Task, ...] = tuple(task for task in TASKS if task.op)
