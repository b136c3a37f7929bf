"""The notebook's check cells: one task's checks, run on the code defined in the notebook.

    from mgkit_checks.notebook import check

    message = check("mul_backward", globals(), cell="the cell that defines Value")
    assert message is None, message

Every `micrograd` module lives in the notebook's one namespace, so that namespace stands in
for the package's engine, nn and train. The check cell asserts itself, so that a failure
shows the cell and the message, and no frame of the kit.

When the course staff grade with `nbgrader autograde`, the same call reaches the course's
hidden checks instead, through the grading machine's installed kit.
"""

from __future__ import annotations

import os
import shutil
from types import SimpleNamespace
from typing import Any

from .core import FAILED, UNDECIDED, Verdict
from .picture import failed_graph
from .preview import Preview, deadline, task_line

LOOP_CELL = "the cell that defines train (train.py)"  # where the training loop zeroes, or does not
CELL_SECONDS = 120.0  # a lecture cell (training a small network included) takes a few seconds
CHECK_CALL = "mgkit_checks.notebook import check"
_LIMIT: dict[str, Any] = {}  # the running cell's deadline and the callbacks of limit_cells
NOT_INSTALLED = (
    "not graded: the grading environment has no micrograd-kit (pip install -e <the kit's folder>)"
)


def check(task_id: str, namespace: dict[str, Any], cell: str = "") -> str | None:
    """None when the task's checks pass on the notebook's code, else what went wrong and where.

    `cell` names the cell that holds the task's code ("the cell that defines Value"). A failed
    graph check also draws that graph, the wrong gradients in red.
    """
    if os.environ.get("NBGRADER_EXECUTION") == "autograde":
        return _hidden_check(task_id)
    code = SimpleNamespace(**namespace)
    verdict = Preview(SimpleNamespace(engine=code, nn=code, train=code)).verdict(task_id)
    if verdict.passed:
        print(f"{task_id}: the checks pass")
        return None
    if verdict.state == UNDECIDED:  # nothing wrong found, nothing proven: not a pass
        return (
            f"{task_id} could not be checked in this notebook, so it has not passed here:"
            f" {verdict.feedback}"
        )
    _show(failed_graph(verdict, code))
    return task_line(verdict) + (f" Change it in {_cell_to_change(verdict, cell)}." if cell else "")


def _cell_to_change(verdict: Verdict, cell: str) -> str:
    """The task's cell, or the training loop's when the check that failed is the loop's (zeroing in
    `train`)."""
    failed = next((check for check in verdict.checks if check.state == FAILED), None)
    return LOOP_CELL if failed and failed.case and failed.case.get("loop") else cell


class CellTimeLimit(BaseException):
    """Raised into a notebook cell that runs past the limit (a BaseException: `except Exception`
    keeps going)."""

    def __init__(self, *args: object) -> None:
        super().__init__(
            *(args or ("this cell ran longer than the notebook's limit: a loop that never ends? "
                       "(limit_cells(seconds=None) lifts the limit)", )))


def limit_cells(seconds: float | None = CELL_SECONDS) -> None:
    """From now on, stop any cell of this notebook that runs longer than `seconds` (None: no limit).

    The check cells keep their own, shorter limits per task. Outside IPython this does nothing.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    for event, callback in _LIMIT.pop("callbacks", ()):
        shell.events.unregister(event, callback)
    if seconds is None:
        return

    def arm(info: Any) -> None:
        if CHECK_CALL not in (info.raw_cell or ""):  # a check cell limits each task itself
            _LIMIT["running"] = deadline(seconds, CellTimeLimit)
            _LIMIT["running"].__enter__()

    def disarm(result: Any) -> None:
        running = _LIMIT.pop("running", None)
        if running is not None:
            running.__exit__(None, None, None)

    _LIMIT["callbacks"] = [("pre_run_cell", arm), ("post_run_cell", disarm)]
    for event, callback in _LIMIT["callbacks"]:
        shell.events.register(event, callback)


def _show(graph: Any) -> None:
    """Display a graph in the notebook: a picture with Graphviz's `dot` program, else a word on how
    to get one."""
    if graph is None:
        return
    if shutil.which("dot") is None:
        print("(the graph of this check: install Graphviz's dot program to see it, see the README)")
        return
    try:
        from IPython.display import display
    except ImportError:  # not in a notebook: the message says it in words
        return
    display(graph)


def _hidden_check(task_id: str) -> str | None:
    try:
        from autograder.platforms.nbgrader import check as hidden_check
    except ImportError:
        return f"{task_id}: {NOT_INSTALLED}"
    return hidden_check(task_id)
