"""One test per graded task, each marked with its task id.

    pytest                    # every task
    pytest -m mul_backward    # one task

A failing test says what was tried, what your code gave, what was expected and the likely
mistake. These run the grade's own checks on other numbers; a task this preview cannot judge
on your code is skipped as "decided by the grade", with the reason.
"""

import pytest

from mgkit_checks.plugin import run_task, task_params


@pytest.mark.parametrize("task_id", task_params())
def test_task(task_id: str, preview, pytestconfig) -> None:
    run_task(preview, task_id, pytestconfig)
