"""What a class run gives back: every student's grade, and why the others have none."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ..grading.results import GradingResults

STOPPED = "the run was stopped before this student was graded: run the same command again"


@dataclass
class ClassResults:
    """Every student's grade (this run's and earlier ones), and why the others have none."""

    grades: dict[str, GradingResults] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # student -> why grading gave no grade
    # student -> why the hand-in cannot be graded
    problems: dict[str, str] = field(default_factory=dict)
    resumed: list[str] = field(default_factory=list)  # students whose earlier results were kept
    regraded: list[str] = field(default_factory=list)  # students whose earlier results were stale
    submitted: dict[str, datetime] = field(default_factory=dict)  # student -> when they submitted
    # student -> the collector's word on lateness
    late_marks: dict[str, bool] = field(default_factory=dict)
    time_flags: dict[str, tuple[str, ...]] = field(default_factory=dict)
    course: Path | None = None  # the nbgrader course whose gradebook.db holds the grades too
    recorded: list[str] = field(default_factory=list)  # students whose points are in that gradebook
    not_recorded: dict[str, str] = field(default_factory=dict)  # student -> why not
    # a regrade's (student, task, old, new): regrade.csv
    moved: list[tuple[str, str, str, str]] | None = None


class RunStopped(Exception):
    """Ctrl-C or SIGTERM stopped the run: the gradebook says who is graded, a rerun finishes."""

    def __init__(self, graded: int, total: int, signum: int):
        super().__init__(
            f"stopped: {graded} of {total} graded; run the same command again to finish")
        self.signum = signum
