"""Before anything ships, the course must grade as it says: `problems(root, release_dir)`.

The reference must earn every point, and the untouched starter none, both in the grade (the
sandboxed hidden checks, on a few seeds) and in the preview (the release's own checks, run as a
student's `pytest` runs them: in a fresh interpreter that imports the release's mgkit_checks).
A task whose entry or region is wrong shows here, by name, before a student meets it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from ..grading.loop import grade
from ..grading.results import GradingResults
from ..grading.worker import TaskSandbox
from ..reference.solution import MODULES

SEEDS = (1, 2)  # the grade draws a secret seed: the reference must not pass by the luck of one
PREVIEW_SECONDS = 300

PREVIEW = """\
import json, sys
from mgkit_checks.preview import Preview
from mgkit_checks.tasks import JUDGING_ORDER
preview = Preview()
verdicts = {task: preview.verdict(task) for task in JUDGING_ORDER}
json.dump({task: [v.state, v.feedback] for task, v in verdicts.items()}, sys.stdout)
"""


def problems(reference: Path, release_dir: Path) -> list[str]:
    """What is wrong with the course, one line each: [] when the reference earns every point and
    the starter none, in the grade and in the preview; one line per task that is wrong.
    `reference` and `release_dir/micrograd` are packages; `release_dir` also holds the release's
    mgkit_checks."""
    found = []
    starter = release_dir / "micrograd"
    with tempfile.TemporaryDirectory(prefix="mgkit-course-check-") as folder, \
            TaskSandbox(hide=[Path(folder)]) as sandbox:  # one zygote for every grade here
        for who, package, seeds in (("the reference", reference, SEEDS), ("the untouched starter",
                                                                          starter, SEEDS[:1])):
            submission = _submission(package, Path(folder) / who.split()[-1])
            for seed in seeds:
                results = grade(submission, seed, sandbox=sandbox)
                found += _grade_problems(results, who, seed, want_full=package == reference)
            found += _preview_problems(submission, release_dir, who, want_full=package == reference)
    first: dict[str, str] = {}
    for problem in found:  # a task wrong on both seeds and both sides is said once
        first.setdefault(problem.partition(":")[0], problem)
    return list(first.values())


def _submission(package: Path, folder: Path) -> Path:
    """A folder holding a copy of the package as micrograd/, as a student hands it in."""
    (folder / "micrograd").mkdir(parents=True)
    for module in ("__init__", *MODULES):
        shutil.copyfile(package / f"{module}.py", folder / "micrograd" / f"{module}.py")
    return folder


def _grade_problems(results: GradingResults, who: str, seed: int, want_full: bool) -> list[str]:
    if not results.graded:
        return [
            f"{who} could not be graded (seed {seed}): {_first_line(results.tasks[0].feedback)}"
        ]
    return [
        _wrong(task.task_id, who, "the grade", f"{task.score:g}/{task.max_score:g}", task.feedback,
               want_full) for task in results.tasks if task.passed != want_full
    ]


def _preview_problems(submission: Path, release_dir: Path, who: str, want_full: bool) -> list[str]:
    """The release's checks, beside the package, in a fresh interpreter: as the student's pytest."""
    checks = submission / "mgkit_checks"
    shutil.copytree(release_dir / "mgkit_checks", checks,
                    ignore=shutil.ignore_patterns("__pycache__"))
    env = {
        key: value
        for key, value in os.environ.items() if key not in ("MGKIT_COURSE", "PYTHONPATH")
    }
    try:
        done = subprocess.run([sys.executable, "-c", PREVIEW], cwd=submission, env=env,
                              capture_output=True, text=True, timeout=PREVIEW_SECONDS)
    finally:
        shutil.rmtree(checks)
    if done.returncode != 0:
        said = (done.stderr.strip().splitlines() or ["no output"])[-1]  # the exception's own line
        return [f"the preview could not run on {who}: {_first_line(said)}"]
    verdicts = json.loads(done.stdout)
    return [_wrong(task, who, "the preview", state, feedback, want_full)
            for task, (state, feedback) in verdicts.items() if (state == "passed") != want_full]


def _wrong(task_id: str, who: str, where: str, how: str, feedback: str, want_full: bool) -> str:
    if want_full:
        return f"{task_id}: {who} does not earn it in {where} ({how}): {_first_line(feedback)}"
    return (
        f"{task_id}: {who} earns it in {where} ({how}): its region in the reference must hold the"
        " whole solution"
    )


def _first_line(text: str) -> str:
    return " ".join(text.split())[:240]
