"""What a task's worker gave the grade (an Observation, or how it failed) and the grade's result for
it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Observation:
    """What a worker reported for one task: plain numbers, read from JSON by the parent."""

    data: dict[str, Any]


@dataclass(frozen=True)
class Failure:
    """A task's worker gave no observation.

    kind: "error" (the student's code raised: `detail` is "ExceptionType: message", cut short),
    "timeout", "memory", "crash" (killed by a signal or exited early), "output" (printed past
    the cap), "not_run" (e.g. its file is missing and the starter raises), "grader" (the kit
    failed).
    """

    kind: str
    detail: str = ""


Outcome = Observation | Failure


@dataclass(frozen=True)
class TaskResult:
    """The parent's verdict on one task."""

    task_id: str
    score: float
    max_score: float
    # for the student: what was tried, what came back, what was expected, the likely mistake
    feedback: str
    # (what was checked, passed) for reports
    checks: list[tuple[str, bool]] = field(default_factory=list)
    # the likely mistake's id ("mul_backward/swapped_operands"), when it failed
    diagnoses: tuple[str, ...] = ()
    # what the feedback advised for each diagnosis ("" when no classic mistake fits)
    advice: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return self.score >= self.max_score
