"""One student as the class's views show them (gradebook.csv, index.html): the same numbers in both.

Its own module, below both the gradebook (which makes the rows) and the dashboard (which shows
them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..grading.results import GradingResults

# the `state` column; a grader error is the kit failing on a hand-in (its reason in results.json),
# never the student
GRADED, NOT_GRADED, GRADER_ERROR, EMPTY, UNREADABLE = (
    "graded",
    "not graded",
    "grader error",
    "empty",
    "unreadable",
)


@dataclass(frozen=True)
class Row:
    """One student as the class's views show them (gradebook.csv, index.html): the same numbers in
    both."""

    student: str
    # GRADED, NOT_GRADED, GRADER_ERROR, EMPTY or UNREADABLE: one of five, for a spreadsheet's filter
    state: str
    status: str  # the state with its reason ("not graded: ...", "unreadable: not a notebook")
    grade: GradingResults | None = None
    total: float | None = None  # what the late policy leaves
    submitted: datetime | None = None
    days_late: int = 0
    late_penalty: float = 0.0
    flags: tuple[str, ...] = ()  # the grade's flags, and with a late policy the time flags
