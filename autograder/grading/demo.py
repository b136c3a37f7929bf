"""`mgkit demo`: the one-command tour. Grades three submissions made on the spot, in a temporary
folder:

- the reference solution: full marks;
- the untouched starter, as released to students: zero, every task present;
- the reference with one bug, `+=` turned into `=` in the closure of `*`: it loses
  grad_accumulation only, because the other tasks are judged on their own.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from ..reference import solution
from .loop import SEED_RANGE, grade
from .results import GradingResults
from .submission import PACKAGE, write_package
from .worker import TaskSandbox

# The built-in bug: the second input of `*` overwrites its gradient instead of adding to it.
BUG_FILE = "engine.py"
BUG_LINE = "other.grad += self.data * out.grad"
BUGGY_LINE = "other.grad = self.data * out.grad"


def run(seed: int | None = None, show: Callable[[str, GradingResults], None] | None = None
        ) -> dict[str, GradingResults]:
    """Grade the reference, the starter and the buggy submission; `show(title, results)` as each
    ends."""
    makers = {"the reference solution": _reference, "the untouched starter": _starter,
              f"the reference with a bug ({BUG_LINE!r} -> {BUGGY_LINE!r})": _buggy}
    seed = secrets.randbelow(SEED_RANGE) if seed is None else seed  # one seed for all three
    graded = {}
    with tempfile.TemporaryDirectory(prefix="mgkit-demo-") as temporary, TaskSandbox() as sandbox:
        for number, (title, make) in enumerate(makers.items()):
            folder = Path(temporary) / f"submission-{number}"
            make(folder / PACKAGE)
            graded[title] = grade(folder, seed, sandbox=sandbox)
            if show:
                show(title, graded[title])
    return graded


def _reference(package: Path) -> None:
    shutil.copytree(solution.REFERENCE_PACKAGE_DIR, package,
                    ignore=shutil.ignore_patterns("__pycache__"))


def _starter(package: Path) -> None:
    write_package(package)


def _buggy(package: Path) -> None:
    _reference(package)
    path = package / BUG_FILE
    text = path.read_text()
    if text.count(BUG_LINE) != 1:
        raise RuntimeError(
            f"the demo's bug needs exactly one {BUG_LINE!r} in the reference {BUG_FILE}")
    path.write_text(text.replace(BUG_LINE, BUGGY_LINE))
