"""nbgrader's autograde, scored by the hidden checks: what the notebook's check cells call there.

nbgrader restores every check cell from the source notebook before it runs a submission, so
each runs `mgkit_checks.notebook.check(task_id, globals())`. Under `nbgrader autograde`
(NBGRADER_EXECUTION=autograde) that calls `check` here, from the kernel, which

1) finds the notebook being autograded: the one in the kernel's working folder, where nbgrader
   wrote it with its locked cells restored;
2) grades it once, in a fresh `python -I` process running `mgkit grade` (the kernel has run the
   student's cells, so the verdict is not decided in it), with the seed in MGKIT_SEED if set;
3) answers each check cell from that grade: None (the cell passes, nbgrader gives its points)
   or the task's feedback (the cell fails: 0).

So a check cell gets the points `mgkit grade` gives the same notebook with the same seed. The
student's code runs only in the sandbox: nothing it prints or warns reaches the check cell's
stderr (which nbgrader would score 0), and the cell shows `mgkit grade`'s feedback, which
never quotes a hidden check.

The kernel ran the student's cells first, so what a check cell printed may be their doing (a
cell that replaced `check` with one that always passes). The kit's nbgrader_config.py therefore
adds `hidden_verdicts` to autograde's preprocessors, right after Execute: in nbgrader's own
process, it grades the notebook as it was before the kernel ran it and writes every check
cell's outputs from that grade, which is what nbgrader then scores.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..reference import rubric

if TYPE_CHECKING:  # nbformat is nbgrader's; the kernel's side never needs it
    from nbformat import NotebookNode

# `MGKIT_SEED=7 nbgrader autograde ...` grades as `mgkit grade --seed 7`
SEED_VARIABLE = "MGKIT_SEED"
KIT_PATH = Path(__file__).resolve().parents[2]  # the folder holding `autograder`
GRADE_SECONDS = 300  # the whole notebook's grade; the sandbox limits each task far below this
# `python -I` ignores PYTHONPATH and the user's site: the kit is put on the path by hand
BOOT = (
    "import sys; sys.path.insert(0, sys.argv.pop(1)); from autograder.cli import main;"
    " sys.exit(main(sys.argv[1:]))"
)

_grades: dict[Path, dict[str, Any]] = {}  # notebook -> its results.json, for the kernel's lifetime


def check(task_id: str) -> str | None:
    """None if `task_id` passed the hidden checks, else its feedback; prints the verdict either
    way."""
    try:
        results = _graded(_notebook(Path.cwd()))
    except RuntimeError as error:
        return f"{task_id}: not graded: {error}"
    passed, text = verdict(task_id, results)
    if passed:
        print(text)
    return None if passed else text


def verdict(task_id: str, results: dict[str, Any]) -> tuple[bool, str]:
    """(passed, what the check cell shows) for one task of a results.json."""
    test = next(test for test in results["tests"] if test["tags"] == [task_id])
    points = f"{test['score']:g}/{test['max_score']:g} points"  # no seed: the student reads this
    if test["status"] == "passed":
        return True, f"{task_id}: passed the hidden checks, {points}"
    return False, f"{task_id}: {points}\n{test['output']}"


def hidden_verdicts(notebook: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
    """nbgrader autograde's step after Execute: every check cell's outputs from a grade made outside
    the kernel.

    `notebook` is in nbgrader's memory, as it was before the kernel ran: its module cells are
    graded as they were handed in (locked cells restored), whatever the kernel did since.
    """
    with tempfile.TemporaryDirectory(prefix="mgkit-nbgrader-") as folder:
        path = Path(folder) / "notebook.ipynb"
        path.write_text(json.dumps(notebook))
        results = grade_in_a_fresh_process(path, os.environ.get(SEED_VARIABLE))
    return write_verdicts(notebook, results), resources


def write_verdicts(notebook: NotebookNode, results: dict[str, Any]) -> NotebookNode:
    """Each check cell's outputs from `results` (a results.json), which nbgrader's SaveAutoGrades
    then scores."""
    for cell in notebook.cells:
        grading = cell.metadata.get("nbgrader", {})
        task_id = grading.get("grade_id")
        if cell.cell_type == "code" and grading.get("grade") and task_id in rubric.TASK_IDS:
            cell.outputs = [_output(*verdict(task_id, results))]
    return notebook


def _output(passed: bool, text: str) -> NotebookNode:
    """A check cell's one output: the verdict printed, or the assertion that failed with the
    feedback."""
    from nbformat.v4 import new_output

    if passed:
        return new_output("stream", name="stdout", text=text + "\n")
    return new_output("error", ename="AssertionError", evalue=text,
                      traceback=[f"AssertionError: {text}"])


def _notebook(folder: Path) -> Path:
    """The notebook being autograded: the only one in `folder` that holds module cells."""
    found = [
        path for path in sorted(folder.glob("*.ipynb"))
        if '"mgkit"' in path.read_text(errors="replace")
    ]
    if len(found) != 1:
        raise RuntimeError(f"expected one micrograd notebook in {folder}, found {len(found)}")
    return found[0]


def _graded(notebook: Path) -> dict[str, Any]:
    if notebook not in _grades:
        _grades[notebook] = grade_in_a_fresh_process(notebook, os.environ.get(SEED_VARIABLE))
    return _grades[notebook]


def grade_in_a_fresh_process(notebook: Path, seed: str | None = None) -> dict[str, Any]:
    """`mgkit grade NOTEBOOK [--seed SEED]` in a new isolated interpreter; its results.json as
    data."""
    with tempfile.TemporaryDirectory(prefix="mgkit-nbgrader-") as folder:
        out = Path(folder) / "results.json"
        command = [
            sys.executable, "-I", "-c", BOOT,
            str(KIT_PATH), "grade",
            str(notebook), "--out",
            str(out)
        ]
        done = subprocess.run(command + (["--seed", seed] if seed else []), capture_output=True,
                              text=True, cwd=folder, timeout=GRADE_SECONDS,
                              stdin=subprocess.DEVNULL)
        if not out.is_file():
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise RuntimeError(f"mgkit grade failed ({last})")
        return json.loads(out.read_text())
