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

from .core import UNDECIDED
from .picture import failed_graph
from .preview import Preview, task_line

NOT_INSTALLED = "not graded: the grading environment has no micrograd-kit (pip install -e <the kit's folder>)"


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
    if verdict.state == UNDECIDED:
        print(task_line(verdict))  # nothing wrong found, nothing proven: the grade decides
        return None
    _show(failed_graph(verdict, code))
    return task_line(verdict) + (f" Change it in {cell}." if cell else "")


def _show(graph: Any) -> None:
    """Display a graph in the notebook: a picture with Graphviz's `dot` program, else a word on how to get one."""
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
