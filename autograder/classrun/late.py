"""Late work: a deadline, a penalty per day begun after it and a cap; what lateness cost, in
feedback.

The gradebook shows when each student submitted (handins.py: the collector's time, never the
student's), how many days late, and the points the policy takes; `total` is what remains.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..grading.results import GradingResults
from .classresults import ClassResults


def days_late(late: LatePolicy | None, results: ClassResults, student: str) -> int:
    """Days begun after the deadline; a collector's own late mark (Canvas's) decides whether at
    all."""
    if late is None:
        return 0
    days, mark = late.days_late(results.submitted.get(student)), results.late_marks.get(student)
    return days if mark is None else max(days, 1) if mark else 0


def late_note(late: LatePolicy, grade_: GradingResults, days: int,
              submitted: datetime | None) -> str:
    """The paragraph of feedback.md that says what lateness cost."""
    lost = late.penalty(grade_.score, days)
    when = f" ({submitted.isoformat()})" if submitted else ""
    return (
        f"## Late\n\nSubmitted {days} day{'s' if days > 1 else ''} after the deadline{when}: the"
        f" late policy takes {late.percent(days):g}% of the score, {lost:g} points, which leaves"
        f" {grade_.score - lost:g} / {grade_.max_score:g}.\n"
    )


DAY = timedelta(days=1)


@dataclass(frozen=True)
class LatePolicy:
    """A deadline, and what a late submission loses: `percent_per_day` of its score for every day
    begun after the deadline, at most `cap_percent`. With 0 per day, lateness is shown, nothing
    taken."""

    deadline: datetime
    percent_per_day: float = 0.0
    cap_percent: float = 100.0

    def __post_init__(self) -> None:
        if self.deadline.tzinfo is None:
            raise ValueError(
                f"deadline {self.deadline.isoformat()} has no time zone: give one, as in "
                f"{self.deadline.isoformat()}+00:00")
        if not (0 <= self.percent_per_day <= 100 and 0 <= self.cap_percent <= 100):
            raise ValueError(
                "the late penalty and its cap are percentages: give numbers from 0 to 100")

    def days_late(self, submitted: datetime | None) -> int:
        """Days begun between the deadline and `submitted`; 0 if on time or never timed."""
        if submitted is None or submitted <= self.deadline:
            return 0
        return math.ceil((submitted - self.deadline) / DAY)

    def percent(self, days: int) -> float:
        return min(self.cap_percent, self.percent_per_day * days)

    def penalty(self, score: float, days: int) -> float:
        """The points a score loses for being `days` late."""
        return round(score * self.percent(days) / 100, 2)
