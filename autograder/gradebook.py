"""Grading a class: `grade_all(submissions, out)`, the Python API under `mgkit grade-all`.

    SUBMISSIONS/alice/micrograd/engine.py ...    one folder or notebook per student
    SUBMISSIONS/bob.ipynb
        -> OUT/alice/results.json, OUT/alice/feedback.md, ..., OUT/gradebook.csv, OUT/summary.txt

Students are graded in parallel, one grading process per core, each with its own sandbox
(zygote). A student who already has results in OUT is skipped unless `force`, so an interrupted
run resumes where it stopped. One student's failure never stops the batch: a submission that
cannot be graded at all is listed as such, and the rest carry on.

Late work: with a `LatePolicy`, the gradebook shows when each student submitted, how many days
late (a day begun counts), and the points the policy takes; `total` is what remains. A
submission's time is the first line of its `timestamp.txt` (nbgrader's file; the instructor's
GitHub workflow writes the commit time there), else the newest modification time of its files
(a notebook's own). grade-all keeps a copy in OUT/<student>/timestamp.txt, so that `merge` can
make one gradebook from results graded elsewhere (one folder per CI job, say).
"""

from __future__ import annotations

import csv
import importlib
import io
import math
import multiprocessing
import os
import shutil
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from multiprocessing.util import Finalize
from pathlib import Path

from .grading import grade
from .outputs import write_atomically
from .reference import MODULES
from .results import GradingResults, read, render_feedback
from .rubric import BY_ID, TASK_IDS, TOTAL_POINTS
from .sandbox import DEFAULT_LIMITS, Limits, Sandbox
from .submission import PACKAGE, SubmissionError

RESULTS = "results.json"
FEEDBACK = "feedback.md"
GRADEBOOK = "gradebook.csv"
SUMMARY = "summary.txt"
TIMESTAMP = "timestamp.txt"
TIMESTAMP_BYTES = 100  # a time fits in its first line; the rest of the file is never read


@dataclass
class ClassResults:
    """Every student's grade (this run's and earlier ones), and who could not be graded at all."""

    grades: dict[str, GradingResults] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # student -> why there is no grade
    resumed: list[str] = field(default_factory=list)  # students whose earlier results were kept
    submitted: dict[str, datetime] = field(default_factory=dict)  # student -> when they submitted


def find_submissions(folder: Path, out: Path | None = None) -> dict[str, Path]:
    """student -> submission: every non-hidden folder and .ipynb notebook in `folder`, by name."""
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder} is not a folder: pass the folder that holds one submission per student")
    skip = out.resolve() if out else None
    found: dict[str, Path] = {}
    for entry in sorted(folder.iterdir(), key=lambda path: path.name.casefold()):
        is_submission = entry.is_dir() or (entry.suffix == ".ipynb" and entry.is_file())
        if entry.name.startswith(".") or not is_submission or entry.resolve() == skip:
            continue
        student = entry.stem if entry.suffix == ".ipynb" else entry.name
        found[entry.name if student in found else student] = entry  # alice/ and alice.ipynb: both graded
    return found


def grade_all(submissions: Path, out: Path, workers: int | None = None, force: bool = False,
              seed: int | None = None, progress: Callable[[int], object] | None = None,
              checks: str = "autograder.checks", limits: Limits = DEFAULT_LIMITS,
              late: LatePolicy | None = None) -> ClassResults:
    """Grade every student in `submissions` into `out`; `progress(total)` makes a bar with .update().

    `checks` names the checks module (a test's fake, imported in the grading processes).
    """
    students = find_submissions(submissions, out)
    submitted = {student: submission_time(path) for student, path in students.items()}  # a bad timestamp stops here
    out.mkdir(parents=True, exist_ok=True)
    results = ClassResults()
    todo = {}
    for student, path in students.items():
        earlier = None if force else _earlier_results(out / student)
        if earlier:
            results.grades[student] = earlier
            results.resumed.append(student)
        else:
            todo[student] = path
    session = _Session(seed, checks, limits, hide=(submissions.resolve(), out.resolve()))
    _grade_in_parallel(todo, out, workers or os.cpu_count() or 1, session, results, progress)
    for student, moment in submitted.items():
        if student in results.grades and moment:
            write_atomically(out / student / TIMESTAMP, moment.isoformat() + "\n")
            results.submitted[student] = moment
    _write_class_views(out, list(students), results, late)
    return results


def _earlier_results(folder: Path) -> GradingResults | None:
    """The student's results from an earlier run, if that run graded them."""
    try:
        earlier = read(folder / RESULTS)
    except (OSError, ValueError):  # none, or not one mgkit wrote: grade again
        return None
    return earlier if earlier.graded else None  # the grader failed last time: try again


def _grade_in_parallel(todo: dict[str, Path], out: Path, workers: int, session: _Session,
                       results: ClassResults, progress: Callable[[int], object] | None) -> None:
    if not todo:
        return
    # fork: the graders start at once with the kit already imported; they run no student code
    with ProcessPoolExecutor(min(workers, len(todo)), mp_context=multiprocessing.get_context("fork")) as pool:
        futures: dict[Future, str] = {pool.submit(grade_student, path, out / student, session): student
                                      for student, path in todo.items()}
        bar = progress(len(todo)) if progress else None
        for future in as_completed(futures):
            student = futures[future]
            try:
                results.grades[student] = future.result()
            except (SubmissionError, OSError, BrokenProcessPool) as error:
                results.errors[student] = str(error) or type(error).__name__
            if bar:
                bar.update()
        if bar:
            bar.close()


@dataclass(frozen=True)
class _Session:
    """What every grading process needs to know, sent to it with each student."""

    seed: int | None
    checks: str
    limits: Limits
    hide: tuple[Path, ...]  # what workers see as empty: every student's submission and results


_sandboxes: dict[_Session, Sandbox] = {}  # in each grading process: one, kept for every student


def grade_student(path: Path, folder: Path, session: _Session) -> GradingResults:
    """Grade one student into `folder` (results.json and feedback.md), with this process's sandbox."""
    if session not in _sandboxes:
        sandbox = _sandboxes[session] = Sandbox(importlib.import_module(session.checks), session.limits,
                                                      hide=session.hide)
        Finalize(sandbox, sandbox.close, exitpriority=10)  # when the pool's process exits
    results = grade(path, session.seed, sandbox=_sandboxes[session])
    folder.mkdir(exist_ok=True)
    write_atomically(folder / FEEDBACK, render_feedback(results, folder.name))
    results.write(folder / RESULTS)  # last: its presence means this student is done
    return results


# ---- results graded elsewhere, and the class's files -------------------------------------

def merge(parts: Path, out: Path, late: LatePolicy | None = None) -> ClassResults:
    """One gradebook in `out` from students graded elsewhere: every <student>/results.json under `parts`.

    `parts` holds grade-all's output folders (one per CI job, say) or their student folders;
    each student's results, feedback and timestamp are copied to out/<student>/.
    """
    if not parts.is_dir():
        raise NotADirectoryError(f"{parts} is not a folder: pass the folder that holds the graded results")
    found: dict[str, Path] = {}
    for path in sorted(parts.glob(f"*/{RESULTS}")) + sorted(parts.glob(f"*/*/{RESULTS}")):
        student = path.parent.name
        if student in found:
            raise ValueError(f"{student} was graded twice ({found[student].parent} and {path.parent}): keep one")
        found[student] = path.parent
    results = ClassResults()
    out.mkdir(parents=True, exist_ok=True)
    students = sorted(found, key=str.casefold)
    for student in students:
        if found[student].resolve() != (out / student).resolve():
            (out / student).mkdir(exist_ok=True)
            for name in (RESULTS, FEEDBACK, TIMESTAMP):
                if (found[student] / name).is_file():
                    shutil.copyfile(found[student] / name, out / student / name)
        try:
            results.grades[student] = read(out / student / RESULTS)
        except (OSError, ValueError) as error:
            results.errors[student] = f"its results could not be read ({error})"
        moment = submission_time(out / student) if (out / student / TIMESTAMP).is_file() else None
        if moment:
            results.submitted[student] = moment
    _write_class_views(out, students, results, late)
    return results


def _write_class_views(out: Path, students: list[str], results: ClassResults, late: LatePolicy | None) -> None:
    """gradebook.csv, summary.txt, and in each late student's feedback.md what the late policy took."""
    for student, grade_ in results.grades.items():
        days = late.days_late(results.submitted.get(student)) if late else 0
        if days and grade_.graded:
            note = late_note(late, grade_, days, results.submitted[student])
            write_atomically(out / student / FEEDBACK, render_feedback(grade_, student) + "\n" + note)
    write_atomically(out / GRADEBOOK, gradebook_csv(students, results, late))
    write_atomically(out / SUMMARY, pass_rates(results) + "\n")


def late_note(late: LatePolicy, grade_: GradingResults, days: int, submitted: datetime) -> str:
    """The paragraph of feedback.md that says what lateness cost."""
    lost = late.penalty(grade_.score, days)
    return (f"## Late\n\nSubmitted {days} day{'s' if days > 1 else ''} after the deadline ({submitted.isoformat()}):"
            f" the late policy takes {late.percent(days):g}% of the score, {lost:g} points, which leaves"
            f" {grade_.score - lost:g} / {grade_.max_score:g}.\n")


# ---- late work -----------------------------------------------------------------------------

DAY = timedelta(days=1)


@dataclass(frozen=True)
class LatePolicy:
    """A deadline, and what a late submission loses: `percent_per_day` of its score for every day
    begun after the deadline, at most `cap_percent`. With 0 per day, lateness is shown, nothing taken."""

    deadline: datetime
    percent_per_day: float = 0.0
    cap_percent: float = 100.0

    def __post_init__(self) -> None:
        if self.deadline.tzinfo is None:
            raise ValueError(f"deadline {self.deadline.isoformat()} has no time zone: give one, as in "
                             f"{self.deadline.isoformat()}+00:00")
        if not (0 <= self.percent_per_day <= 100 and 0 <= self.cap_percent <= 100):
            raise ValueError("the late penalty and its cap are percentages: give numbers from 0 to 100")

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


def parse_time(text: str, where: str) -> datetime:
    """A time in ISO 8601 or as nbgrader writes it ("2025-03-01 23:59:00.000000 UTC"), in UTC (assumed if no zone)."""
    text = text.strip()
    cleaned = text[:-4] + "+00:00" if text.endswith(" UTC") else text[:-1] + "+00:00" if text.endswith("Z") else text
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        raise ValueError(f"{where}: {text!r} is not a time; write it as 2025-03-01T23:59:00+00:00") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


def submission_time(path: Path) -> datetime | None:
    """When a submission was handed in: its timestamp.txt, else the newest modification time of its files.

    None if the submission cannot be read (grading will say why); ValueError for a timestamp.txt
    that holds no time.
    """
    stamp = path / TIMESTAMP
    try:
        if stamp.is_file():
            with stamp.open("rb") as file:
                first = file.read(TIMESTAMP_BYTES).decode(errors="replace").split("\n", 1)[0]
            return parse_time(first, str(stamp))
        graded = [path / where / f"{module}.py" for module in MODULES for where in (PACKAGE, ".")]
        times = [os.lstat(file).st_mtime for file in graded if os.path.lexists(file)] or [os.lstat(path).st_mtime]
    except OSError:
        return None
    return datetime.fromtimestamp(max(times), timezone.utc)


# ---- the class's views ---------------------------------------------------------------------

def gradebook_csv(students: Iterable[str], results: ClassResults, late: LatePolicy | None = None) -> str:
    """student, total, points per task, status, flags to review: one row per student, in name order.

    With a late policy, `total` is what the policy leaves, and three columns say why: submitted,
    days_late, late_penalty (points).
    """
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["student", "total", *TASK_IDS, "status", "flags", *(LATE_COLUMNS if late else ())])
    for student in students:
        grade_ = results.grades.get(student)
        if grade_ is None:
            writer.writerow([student, "", *[""] * len(TASK_IDS), f"not graded: {results.errors.get(student, '?')}",
                             "", *([""] * len(LATE_COLUMNS) if late else ())])
            continue
        submitted = results.submitted.get(student)
        days = late.days_late(submitted) if late else 0
        lost = late.penalty(grade_.score, days) if late and grade_.graded else 0.0
        lateness = [submitted.isoformat() if submitted else "", str(days), f"{lost:g}"] if late else []
        writer.writerow([student, f"{grade_.score - lost:g}", *(f"{task.score:g}" for task in grade_.tasks),
                         "graded" if grade_.graded else "not graded: the grader failed, see results.json",
                         "; ".join(grade_.flags), *lateness])
    return text.getvalue()


LATE_COLUMNS = ("submitted", "days_late", "late_penalty")


def pass_rates(results: ClassResults) -> str:
    """Per task: how many students passed it, and the class's mean points."""
    graded = [grade_ for grade_ in results.grades.values() if grade_.graded]
    width = max(len(task_id) for task_id in TASK_IDS)
    lines = [f"{'task':<{width}}  {'passed':>11}  {'mean points':>11}"]
    for index, task_id in enumerate(TASK_IDS):
        passed = sum(grade_.tasks[index].passed for grade_ in graded)
        mean = sum(grade_.tasks[index].score for grade_ in graded) / len(graded) if graded else 0.0
        lines.append(f"{task_id:<{width}}  {_rate(passed, len(graded)):>11}  "
                     f"{f'{mean:.1f}/{BY_ID[task_id].points}':>11}")
    mean_total = sum(grade_.score for grade_ in graded) / len(graded) if graded else 0.0
    lines.append(f"{'total':<{width}}  {'':>11}  {f'{mean_total:.1f}/{TOTAL_POINTS}':>11}")
    not_graded = len(results.grades) - len(graded) + len(results.errors)
    lines.append(f"\n{len(graded)} students graded" + (f", {not_graded} not graded (see {GRADEBOOK})"
                                                          if not_graded else ""))
    return "\n".join(lines)


def _rate(passed: int, total: int) -> str:
    return f"{passed}/{total} {passed / total:>4.0%}" if total else "0/0"
