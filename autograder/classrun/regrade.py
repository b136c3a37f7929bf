"""Regrades that say what changed: what graded OUT, and which scores moved when that changed.

A run over OUT records what graded it (OUT/.mgkit-graded-by.json: the kit's version, the
course's digest, the checks' fingerprint, the seed). A run whose grader differs from the one
recorded keeps the earlier scores aside first (OUT/.mgkit-regrade-before.json, until the run
finishes: a stopped regrade that is resumed still compares with the scores before it), and once
it finished writes OUT/regrade.csv: student, task, old, new, for exactly the students and tasks
whose points moved. `dry_run` grades into a scratch folder and says the same, replacing nothing.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

from mgkit_checks.course import in_use

from ..grading.results import KIT
from ..reference.outputs import spreadsheet_cell, spreadsheet_value, write_atomically

GRADED_BY = ".mgkit-graded-by.json"
BEFORE = ".mgkit-regrade-before.json"
REGRADE = "regrade.csv"
HEADER = ("student", "task", "old", "new")

Scores = dict[str, dict[str, float]]  # student -> task id -> points, as results.json says


@dataclass(frozen=True)
class GradedBy:
    """What decides a grade besides the hand-in: a change of any of these is a regrade."""

    kit: str  # micrograd-kit's version
    course: str  # a digest of course.toml
    # grading.checks_fingerprint(): the checks, the rubric and the reference's forward passes
    checks: str
    seed: int | None  # None: a fresh seed for each student

    @classmethod
    def now(cls, checks: str, seed: int | None) -> GradedBy:
        try:
            version = metadata.version("micrograd-kit")
        # run from a copy that was never installed (Gradescope's zip)
        except metadata.PackageNotFoundError:
            version = "unknown"
        return cls(version,
                   hashlib.sha256(in_use().path.read_bytes()).hexdigest()[:16], checks, seed)

    def differences(self, other: GradedBy) -> list[str]:
        """What changed from `other` to this one, in words."""
        return [f"{name} {getattr(other, name)} -> {getattr(self, name)}" for name in asdict(self)
                if getattr(self, name) != getattr(other, name)]


def recorded(out: Path) -> GradedBy | None:
    try:
        data = json.loads((out / GRADED_BY).read_text())
        return GradedBy(**{name: data[name] for name in ("kit", "course", "checks", "seed")})
    except (OSError, ValueError, KeyError, TypeError):
        return None


def begin(out: Path, graded_by: GradedBy) -> None:
    """Before anything in OUT is replaced: keep its scores aside if this run grades them
    otherwise."""
    earlier = recorded(out)
    # a first run, the same, or resumed
    if earlier is None or earlier == graded_by or (out / BEFORE).exists():
        return
    write_atomically(
        out / BEFORE,
        json.dumps({
            "kit": KIT,
            "graded_by": asdict(earlier),
            "scores": scores(out)
        }, sort_keys=True) + "\n")


def finish(out: Path, graded_by: GradedBy) -> list[tuple[str, str, str, str]] | None:
    """After a run that finished: regrade.csv if it regraded under another grader; what moved (None:
    no regrade)."""
    write_atomically(out / GRADED_BY,
                     json.dumps({
                         "kit": KIT,
                         **asdict(graded_by)
                     }, indent=2) + "\n")
    try:
        before = json.loads((out / BEFORE).read_text())["scores"]
    except (OSError, ValueError, KeyError):
        return None
    moved = changes(before, scores(out))
    write_atomically(out / REGRADE, regrade_csv(moved))
    (out / BEFORE).unlink()
    return moved


def scores(out: Path) -> Scores:
    """Every student's points per task in OUT, read as plain JSON (a changed course's rubric would
    refuse them)."""
    found: Scores = {}
    for path in sorted(out.glob("*/results.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data["extra_data"]["kit"] == KIT and data["extra_data"]["graded"]:
                found[path.parent.name] = {
                    test["tags"][0]: float(test["score"])
                    for test in data["tests"]
                }
        except (OSError, ValueError, KeyError, IndexError, TypeError):
            continue  # not a grade: nothing to compare
    return found


def changes(before: Scores, after: Scores) -> list[tuple[str, str, str, str]]:
    """(student, task, old, new) for each task whose points moved, of the students graded both
    times.

    A task the course added or dropped moved from or to "" (no such task)."""
    moved = []
    for student in sorted(before.keys() & after.keys(), key=str.casefold):
        old, new = before[student], after[student]
        for task in [*new, *(task for task in old if task not in new)]:
            if old.get(task) != new.get(task):
                moved.append((student, task, _points(old.get(task)), _points(new.get(task))))
    return moved


def _points(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def regrade_csv(moved: list[tuple[str, str, str, str]]) -> str:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerows([HEADER, *([spreadsheet_cell(cell) for cell in row] for row in moved)])
    return text.getvalue()


def read_regrade(out: Path) -> list[tuple[str, str, str, str]] | None:
    """regrade.csv's rows, for the dashboard; None when OUT has none."""
    try:
        rows = list(csv.reader(io.StringIO((out / REGRADE).read_text(encoding="utf-8"))))
    except OSError:
        return None
    if rows[:1] != [list(HEADER)]:
        return None
    return [
        tuple(spreadsheet_value(cell) for cell in row) for row in rows[1:]
        if len(row) == len(HEADER)
    ]
