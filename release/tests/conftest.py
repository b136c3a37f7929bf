"""After every run, a table of the graded tasks and the points their public checks show.

Every public test is marked with its task id (`pytest -m mul_backward` runs one task). This
plugin reads those markers, collects each test's outcome and prints, at the end of the run:

    task               result    public points
    add_backward       passed         8 / 8
    mul_backward       failed         0 / 8
    ...
    public checks 35/100; hidden checks decide the final score

A task shows its points only when every public test of it ran and passed.
"""

from __future__ import annotations

import os

import pytest
from mgkit_checks.rubric import TASKS, TOTAL_POINTS

PASSED, FAILED, NOT_RUN = "passed", "failed", "not run"
FOOTER = "public checks {earned}/{total}; hidden checks decide the final score"


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(TaskTable(), "mgkit-task-table")


class TaskTable:
    """Outcomes of the public tests, gathered per task and printed as one table."""

    def __init__(self) -> None:
        self.tasks_of: dict[str, list[str]] = {}  # test id -> the task ids it is marked with
        self.outcomes: dict[str, list[str]] = {task.id: [] for task in TASKS}

    def pytest_itemcollected(self, item: pytest.Item) -> None:
        self.tasks_of[item.nodeid] = [mark.name for mark in item.iter_markers() if mark.name in self.outcomes]

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # A test counts once: its call, or the setup or teardown that failed or skipped it.
        if report.when == "call" or not report.passed:
            outcome = PASSED if report.passed else FAILED if report.failed else NOT_RUN
            for task_id in self.tasks_of.get(report.nodeid, []):
                self.outcomes[task_id].append(outcome)

    def pytest_terminal_summary(self, terminalreporter) -> None:
        rows = [(task, self.result(task.id)) for task in TASKS]
        earned = sum(task.points for task, result in rows if result == PASSED)
        write = terminalreporter.write_line
        terminalreporter.write_sep("=", "micrograd tasks (public checks)")
        write(f"{'task':<19}{'result':<10}public points")
        for task, result in rows:
            write(f"{task.id:<19}{result:<10}{task.points if result == PASSED else 0:>6} / {task.points}")
        write(FOOTER.format(earned=earned, total=TOTAL_POINTS))
        # on GitHub Actions the table of a whole run goes on the run's page too (a `-m task` run's would repeat it)
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary and not terminalreporter.config.option.markexpr:
            with open(summary, "a", encoding="utf-8") as file:
                file.write(markdown_table(rows, earned))

    def result(self, task_id: str) -> str:
        outcomes = self.outcomes[task_id]
        if FAILED in outcomes:
            return FAILED
        return PASSED if outcomes and all(outcome == PASSED for outcome in outcomes) else NOT_RUN


def markdown_table(rows: list, earned: int) -> str:
    """The table for GitHub's job summary (Markdown)."""
    lines = ["### micrograd tasks (public checks)", "", "| task | result | public points |", "| --- | --- | --- |"]
    lines += [f"| `{task.id}` | {result} | {task.points if result == PASSED else 0} / {task.points} |"
              for task, result in rows]
    return "\n".join([*lines, "", FOOTER.format(earned=earned, total=TOTAL_POINTS), ""]) + "\n"
