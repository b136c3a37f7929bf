"""Results: one grade as data, Gradescope's results.json, and the two views people read.

`GradingResults` serialises itself (`to_gradescope`, `from_gradescope`) and writes itself once,
atomically; `render_table` (the terminal) and `render_feedback` (feedback.md) only read it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..reference import rubric
from ..reference.outputs import printable, write_atomically
from .outcomes import TaskResult

KIT = "micrograd-kit"  # in extra_data: marks a results.json that mgkit may replace
NOT_GRADED = (
    "not graded: the grader failed ({reason}); tell your course staff, this is not your score"
)
FAILURE_SUMMARY_CHARS = 70  # how much of a failed task's feedback the terminal table shows


@dataclass(frozen=True)
class GradingResults:
    """A grade: one TaskResult per rubric task in rubric order, and how it was obtained."""

    tasks: tuple[TaskResult, ...]
    seed: int
    execution_time: float = 0.0
    notes: tuple[str, ...] = ()  # about the submission: missing files, an unreadable notebook
    graded: bool = True  # False: the grader itself failed, every task scores 0
    # the sandbox's optional layers that were in force
    isolation: tuple[str, ...] = field(default=())
    # suspicious constructs for an instructor to review: never a penalty
    flags: tuple[str, ...] = ()
    # which class run, checks and hand-in content made this grade: grade-all regrades a stale one
    provenance: tuple[tuple[str, str], ...] = ()
    canvas_user_id: str | None = None  # the hand-in's Canvas user id, for `mgkit export canvas`
    # the collector's own word on lateness (Canvas's "late"), so a merge keeps it
    late_mark: bool | None = None
    # how its time was found, where the collector recorded none: a merge keeps it
    time_flags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if tuple(task.task_id for task in self.tasks) != rubric.TASK_IDS:
            raise ValueError(
                f"a grade needs one result per task, in rubric order: {', '.join(rubric.TASK_IDS)}")
        for task in self.tasks:
            if task.max_score != rubric.BY_ID[
                    task.task_id].points or not 0 <= task.score <= task.max_score:
                raise ValueError(
                    f"{task.task_id}: score {task.score} of {task.max_score} is not within the"
                    " rubric"
                )

    @classmethod
    def not_graded(cls, reason: str, seed: int, execution_time: float = 0.0,
                   notes: tuple[str, ...] = ()) -> GradingResults:
        """Zero for every task, saying so: what to write when the grader itself failed."""
        message = NOT_GRADED.format(reason=" ".join(reason.split())[:300])  # one line
        tasks = tuple(
            TaskResult(task.id, 0.0, float(task.points), message) for task in rubric.TASKS)
        return cls(tasks, seed, execution_time, notes, graded=False)

    def passed(self, task: TaskResult) -> bool:
        """A task passed only in a grade the grader could make."""
        return task.passed and self.graded

    @property
    def score(self) -> float:
        return sum(task.score for task in self.tasks)

    @property
    def max_score(self) -> float:
        return sum(task.max_score for task in self.tasks)

    def summary(self) -> str:
        """The top-level output students read: the score and the notes (the seed is the
        instructor's)."""
        head = (f"Score {self.score:g} / {self.max_score:g}." if self.graded
                else self.tasks[0].feedback[0].upper() + self.tasks[0].feedback[1:] + ".")
        return "\n".join([head, *(f"Note: {note}" for note in self.notes)])

    def reproduce(self) -> str:
        """The instructor's line: how to grade the same way again."""
        return (
            f"Seed {self.seed}: `mgkit grade SUBMISSION --seed {self.seed}` reproduces this grade."
        )

    def to_gradescope(self) -> dict[str, Any]:
        """The Gradescope results.json of the contract: task id first in every name, and in tags."""
        return {
            "score":
            self.score,
            "execution_time":
            round(self.execution_time, 3),
            "output":
            self.summary(),
            "tests": [{
                "name": f"{task.task_id}: {rubric.BY_ID[task.task_id].title}",
                "score": task.score,
                "max_score": task.max_score,
                "status": "passed" if self.passed(task) else "failed",
                "output": task.feedback,
                "visibility": "visible",
                "tags": [task.task_id],
            } for task in self.tasks],
            "extra_data": {
                "kit": KIT,
                "seed": self.seed,
                "graded": self.graded,
                "notes": list(self.notes),
                "isolation": list(self.isolation),
                "flags": list(self.flags),
                "diagnoses": {
                    task.task_id: list(task.diagnoses)
                    for task in self.tasks if task.diagnoses
                },
                # beside `diagnoses`, whose readers expect ids: the advice of each, for
                # the dashboard
                "advice": {
                    task.task_id: list(task.advice)
                    for task in self.tasks if task.advice
                },
                **({
                    "provenance": dict(self.provenance)
                } if self.provenance else {}),
                **({
                    "canvas_user_id": self.canvas_user_id
                } if self.canvas_user_id else {}),
                **({
                    "late_mark": self.late_mark
                } if self.late_mark is not None else {}),
                **({
                    "time_flags": list(self.time_flags)
                } if self.time_flags else {})
            },
        }

    @classmethod
    def from_gradescope(cls, data: dict[str, Any]) -> GradingResults:
        """Read back a results.json that mgkit wrote (ValueError for anything else)."""
        try:
            extra = data["extra_data"]
            if extra.get("kit") != KIT:
                raise ValueError("not written by mgkit")
            diagnoses, advice = extra.get("diagnoses", {}), extra.get("advice", {})
            tasks = tuple(
                TaskResult(test["tags"][0], float(test["score"]), float(test["max_score"]),
                           test["output"], diagnoses=tuple(diagnoses.get(test["tags"][0], (
                           ))), advice=tuple(advice.get(test["tags"][0], ())))
                for test in data["tests"])
            return cls(tasks, int(extra["seed"]), float(data.get("execution_time", 0.0)),
                       tuple(extra.get("notes", ())), bool(extra["graded"]),
                       tuple(extra.get("isolation", ())), tuple(extra.get("flags", ())),
                       tuple(sorted(extra.get("provenance", {}).items())),
                       extra.get("canvas_user_id"), _late_mark(extra.get("late_mark")),
                       tuple(str(flag) for flag in extra.get("time_flags", ())))
        except (KeyError, IndexError, TypeError, AttributeError) as error:
            raise ValueError(
                f"not an mgkit results.json ({type(error).__name__}: {error})") from error

    def write(self, path: Path) -> None:
        """Write results.json once, atomically: readers see no file or the whole file, never a
        part."""
        write_atomically(path,
                         json.dumps(self.to_gradescope(), indent=2, ensure_ascii=False) + "\n")


def _late_mark(value: object) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise TypeError(f"late_mark is {value!r}, not true, false or absent")
    return value


def read(path: Path) -> GradingResults:
    """A results.json that mgkit wrote; ValueError if it is not one, OSError if unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise ValueError(f"{path} is not JSON") from error
    return GradingResults.from_gradescope(data)


def is_results_file(path: Path) -> bool:
    """Whether `path` holds results mgkit wrote (which a new grade may replace)."""
    try:
        read(path)
    except (OSError, ValueError):
        return False
    return True


# ---- views ---------------------------------------------------------------------------------

def render_table(results: GradingResults) -> str:
    """The terminal view: one line per task, the total, and the seed."""
    width = max(len(task_id) for task_id in rubric.TASK_IDS)
    lines = [f"{'task':<{width}}  {'points':>7}  result"]
    for task in results.tasks:
        points = f"{task.score:g}/{task.max_score:g}"
        verdict = "passed" if results.passed(task) else f"failed: {_first_line(task.feedback)}"
        lines.append(f"{task.task_id:<{width}}  {points:>7}  {verdict}")
    lines.append(f"{'total':<{width}}  {f'{results.score:g}/{results.max_score:g}':>7}")
    flags = [f"For the instructor to review (not a penalty): {flag}" for flag in results.flags]
    notes = results.summary().split("\n")[1:]
    return "\n".join(lines + ["", results.reproduce(), *notes, *flags])


def _first_line(text: str) -> str:
    # the student's words reach a terminal: no escape codes
    line = printable(text.strip().split("\n", 1)[0])
    return line if len(line) <= FAILURE_SUMMARY_CHARS else line[: FAILURE_SUMMARY_CHARS - 1] + "…"


def render_feedback(results: GradingResults, student: str) -> str:
    """feedback.md: the score, then every task with what to fix. Text that may be the student's (the
    name, the notes, what their code raised) is quoted as code, so that no Markdown viewer renders
    it."""
    lines = [f"# micrograd: {_inline(student)}, {results.score:g} / {results.max_score:g}", "",
             results.summary().split("\n", 1)[0], ""]
    if results.notes:
        lines += [_fenced("\n".join(f"Note: {note}" for note in results.notes)), ""]
    lines += ["| task | points | result |", "| --- | --- | --- |"]
    lines += [f"| `{task.task_id}` | {task.score:g} / {task.max_score:g} | "
              f"{'passed' if results.passed(task) else 'failed'} |" for task in results.tasks]
    for task in results.tasks:
        lines += [
            "", f"## `{task.task_id}`: {rubric.BY_ID[task.task_id].title}", "",
            _fenced(task.feedback)
        ]
    return "\n".join(lines) + "\n"


def _fenced(text: str) -> str:
    """`text` as a Markdown code block, its fence longer than any run of backticks in it."""
    fence = "`" * max(3, _longest_backticks(text) + 1)
    return f"{fence}text\n{text}\n{fence}"


def _inline(text: str) -> str:
    """`text` as Markdown inline code, whatever backticks it holds."""
    ticks = "`" * (_longest_backticks(text) + 1)
    # CommonMark strips one space
    padded = f" {text} " if text.startswith("`") or text.endswith("`") else text
    return f"{ticks}{padded}{ticks}"


def _longest_backticks(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)
