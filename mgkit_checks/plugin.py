"""The student's pytest: one test per task, and after the run a table of where each task stands.

    task               result          public points
    add_backward       passed               8 / 8
    mul_backward       failed               0 / 8
    training_loop      by the grade         - / 16
    ...
    public checks 35/100; hidden checks on other numbers decide the grade

Each task's test runs the task's checks (the grade's own, on the public seed: preview.py) and
passes, fails with what to fix, or is skipped as "decided by the grade" when this preview
cannot judge it (and says why). Every test is marked with its task id: `pytest -m mul_backward`.
"""

from __future__ import annotations

import os

import pytest

from . import rubric
from .core import UNDECIDED
from .preview import Preview, task_line

PASSED, FAILED, BY_GRADE, NOT_RUN = "passed", "failed", "by the grade", "not run"
FOOTER = "public checks {earned}/{total}; hidden checks on other numbers decide the grade"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--undecided-fails", action="store_true", help=
        "a task this preview cannot judge fails instead of being skipped (for a per-task exit code)"
    )


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(TaskTable(), "mgkit-task-table")


@pytest.fixture(scope="session")
def preview() -> Preview:
    return Preview()


def run_task(preview: Preview, task_id: str, config: pytest.Config | None = None) -> None:
    """The body of a task's test: pass, fail with the lesson, or skip as decided by the grade."""
    verdict = preview.verdict(task_id)
    if verdict.state == UNDECIDED and not (config and config.getoption("--undecided-fails")):
        pytest.skip(task_line(verdict))
    if not verdict.passed:
        # the message is the lesson; the kit's traceback is noise
        pytest.fail(task_line(verdict), pytrace=False)


def task_params() -> list:
    return [
        pytest.param(task_id, marks=getattr(pytest.mark, task_id)) for task_id in rubric.TASK_IDS
    ]


class TaskTable:
    """Outcomes of the task tests, gathered per task and printed as one table."""

    def __init__(self) -> None:
        self.tasks_of: dict[str, list[str]] = {}  # test id -> the task ids it is marked with
        self.outcomes: dict[str, list[str]] = {task.id: [] for task in rubric.TASKS}

    def pytest_itemcollected(self, item: pytest.Item) -> None:
        self.tasks_of[item.nodeid] = [
            mark.name for mark in item.iter_markers() if mark.name in self.outcomes
        ]

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # A test counts once: its call, or the setup or teardown that failed or skipped it.
        if report.when == "call" or not report.passed:
            outcome = PASSED if report.passed else FAILED if report.failed else BY_GRADE
            for task_id in self.tasks_of.get(report.nodeid, []):
                self.outcomes[task_id].append(outcome)

    def pytest_terminal_summary(self, terminalreporter) -> None:
        rows = [(task, self.result(task.id)) for task in rubric.TASKS]
        earned = sum(task.points for task, result in rows if result == PASSED)
        write = terminalreporter.write_line
        terminalreporter.write_sep("=", "micrograd tasks (public checks)")
        write(f"{'task':<19}{'result':<15}public points")
        for task, result in rows:
            write(f"{task.id:<19}{result:<15}{_points(task, result):>6} / {task.points}")
        write(FOOTER.format(earned=earned, total=rubric.TOTAL_POINTS))
        # on GitHub Actions the table of a whole run goes on the run's page too (a `-m task` run's
        # would repeat it)
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary and not terminalreporter.config.option.markexpr:
            with open(summary, "a", encoding="utf-8") as file:
                file.write(markdown_table(rows, earned))

    def result(self, task_id: str) -> str:
        outcomes = self.outcomes[task_id]
        for outcome in (FAILED, BY_GRADE):
            if outcome in outcomes:
                return outcome
        return PASSED if outcomes else NOT_RUN


def _points(task, result: str) -> str:
    return str(task.points if result == PASSED else "-" if result in (BY_GRADE, NOT_RUN) else 0)


def markdown_table(rows: list, earned: int) -> str:
    """The table for GitHub's job summary (Markdown)."""
    lines = [
        "### micrograd tasks (public checks)", "", "| task | result | public points |",
        "| --- | --- | --- |"
    ]
    lines += [
        f"| `{task.id}` | {result} | {_points(task, result)} / {task.points} |"
        for task, result in rows
    ]
    return "\n".join([*lines, "",
                      FOOTER.format(earned=earned, total=rubric.TOTAL_POINTS), ""]) + "\n"
