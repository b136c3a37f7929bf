"""The public checks, one test per graded task, each marked with its task id.

    pytest                    # every task
    pytest -m mul_backward    # one task

A failing test says what was tried, what your code gave, what was expected and the likely
mistake. These are a preview: the hidden checks, on other numbers, decide your grade.
"""

import pytest
from mgkit_checks.public import NotJudgedHere, check
from mgkit_checks.rubric import TASK_IDS

TASKS = [pytest.param(task_id, marks=getattr(pytest.mark, task_id)) for task_id in TASK_IDS]


@pytest.mark.parametrize("task_id", TASKS)
def test_task(task_id: str) -> None:
    message = check(task_id)
    if isinstance(message, NotJudgedHere):
        pytest.skip(message)
    if message:
        pytest.fail(message, pytrace=False)  # the message is the lesson; the kit's traceback is noise
