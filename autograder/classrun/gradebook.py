"""Grading a class: `grade_all(submissions, out)`, the Python API under `mgkit grade-all`.

    SUBMISSIONS/alice/micrograd/engine.py ...    a hand-in per student, as courses collect them (handins.py)
    SUBMISSIONS/bob.ipynb
        -> OUT/alice/results.json, OUT/alice/feedback.md, ..., OUT/gradebook.csv, OUT/summary.txt

A grade exists only when grading finished. Students are graded in parallel (graders.py), and
the main process alone writes each one's results, once, atomically, stamped with the run, the
checks' fingerprint and the hand-in's content. A later run keeps only the results stamped as it
would stamp them: an interrupted run resumes, a changed hand-in or changed checks are graded
again, and `force` starts a new run. The run's settings (seed, late policy) are kept in
OUT/.mgkit-run.json: a rerun that leaves them out reuses them, one that changes them stops and
says what differs (or, with `force`, grades again under the new ones).

OUT is the kit's: one run at a time writes there (a lock the kernel drops when the run dies),
and a file there that mgkit did not write is never replaced without `force`.

Late work: with a `LatePolicy`, the gradebook shows when each student submitted (handins.py:
the collector's time, never the student's), how many days late (a day begun counts), and the
points the policy takes; `total` is what remains. grade-all keeps a copy of the time in
OUT/<student>/timestamp.txt, so that `merge` can make one gradebook from results graded
elsewhere (one folder per CI job, say).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import secrets
import shutil
import signal
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

from ..grading.loop import checks_fingerprint
from ..grading.results import KIT, GradingResults, is_results_file, read, render_feedback
from ..grading.submission import run_scratch
from ..grading.worker import ENTRY
from ..reference import rubric
from ..reference.outputs import locked, spreadsheet_cell, spreadsheet_value, write_atomically
from ..sandbox import DEFAULT_LIMITS, Limits
from . import regrade
from . import shards as sharding
from .dashboard import FEEDBACK_PAGE, INDEX, is_dashboard_page, write_dashboard
from .graders import STOP_SIGNALS, Graders, Session
from .handins import TIMESTAMP, HandIn, describe, find_handins, parse_time, read_time
from .rows import EMPTY, GRADED, GRADER_ERROR, NOT_GRADED, UNREADABLE, Row
from .shards import in_shard

RESULTS = "results.json"
FEEDBACK = "feedback.md"
GRADEBOOK = "gradebook.csv"
SUMMARY = "summary.txt"
MANIFEST = ".mgkit-run.json"
STOPPED = "the run was stopped before this student was graded: run the same command again"

__all__ = ["TIMESTAMP", "ClassResults", "LatePolicy", "RunStopped", "grade_all", "merge", "parse_time"]


@dataclass
class ClassResults:
    """Every student's grade (this run's and earlier ones), and why the others have none."""

    grades: dict[str, GradingResults] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # student -> why grading gave no grade
    problems: dict[str, str] = field(default_factory=dict)  # student -> why the hand-in cannot be graded
    resumed: list[str] = field(default_factory=list)  # students whose earlier results were kept
    regraded: list[str] = field(default_factory=list)  # students whose earlier results were stale
    submitted: dict[str, datetime] = field(default_factory=dict)  # student -> when they submitted
    late_marks: dict[str, bool] = field(default_factory=dict)  # student -> the collector's word on lateness
    time_flags: dict[str, tuple[str, ...]] = field(default_factory=dict)
    course: Path | None = None  # the nbgrader course whose gradebook.db holds the grades too
    recorded: list[str] = field(default_factory=list)  # students whose points are in that gradebook
    not_recorded: dict[str, str] = field(default_factory=dict)  # student -> why not
    moved: list[tuple[str, str, str, str]] | None = None  # a regrade's (student, task, old, new): regrade.csv


class RunStopped(Exception):
    """Ctrl-C or SIGTERM stopped the run: the gradebook says who is graded, a rerun finishes."""

    def __init__(self, graded: int, total: int, signum: int):
        super().__init__(f"stopped: {graded} of {total} graded; run the same command again to finish")
        self.signum = signum


@dataclass(frozen=True)
class RunSettings:
    """What a class run is, as OUT/.mgkit-run.json records it."""

    run: str  # a fresh id for every new run (a first one, or --force): results carry it
    checks: str  # checks_fingerprint()
    seed: int | None = None  # None: a fresh seed for each student
    late: LatePolicy | None = None

    def to_json(self) -> str:
        late = {**asdict(self.late), "deadline": self.late.deadline.isoformat()} if self.late else None
        return json.dumps({"kit": KIT, "run": self.run, "checks": self.checks, "seed": self.seed, "late": late},
                          indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> RunSettings:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("kit") != KIT:
            raise ValueError("not written by mgkit")
        late = data["late"] and LatePolicy(datetime.fromisoformat(data["late"]["deadline"]),
                                           data["late"]["percent_per_day"], data["late"]["cap_percent"])
        return cls(str(data["run"]), str(data["checks"]), data["seed"], late or None)

    def stamp(self, handin: HandIn) -> tuple[tuple[str, str], ...]:
        """The provenance of a grade this run makes of `handin`."""
        return (("checks", self.checks), ("run", self.run), ("submission", handin.content))


def grade_all(submissions: Path, out: Path, workers: int | None = None, force: bool = False,
              seed: int | None = None, progress: Callable[[int], object] | None = None,
              entry: str = ENTRY, limits: Limits = DEFAULT_LIMITS,
              late: LatePolicy | None = None, say: Callable[[str], object] | None = None,
              shard: tuple[int, int] | None = None, batch: str | None = None) -> ClassResults:
    """Grade every student in `submissions` into `out`; RunStopped (after writing the gradebook) on Ctrl-C.

    `seed` and `late` left out: the ones this `out` was graded with, if any. `progress(total)`
    makes a bar with .update(); `say` hears what was found before grading starts. `entry`
    names what the sandbox's workers run (a test's fake entry; the judge is always the kit's). `shard` (I, N): only the
    students of that share (shards.py), for `merge` to gather once every shard (of `batch`) is complete.
    """
    with _stoppable() as stop, locked(out), run_scratch() as scratch:
        handins = [handin for handin in find_handins(submissions, skip=out) if in_shard(handin.student, shard)]
        if say:
            say(describe(handins))
        # an nbgrader course: its gradebook gets the grades (a shard's, once, at the merge)
        recorder = None if shard else _nbgrader_recorder(submissions, handins)
        settings = _settings(out, seed, late, force, checks_fingerprint(entry))
        _check_ours(out, [handin.student for handin in handins], force)
        write_atomically(out / MANIFEST, settings.to_json())
        if shard:
            sharding.begin(out, shard, batch)
        graded_by = regrade.GradedBy.now(settings.checks, settings.seed)
        regrade.begin(out, graded_by)  # a grader other than the last: its scores kept aside, for regrade.csv
        results = ClassResults()
        todo = _sort_out(handins, out, settings, results)
        hide = tuple(path.resolve() for path in (submissions, out, scratch))  # every student's work
        session = Session(settings.seed, limits, hide, scratch, entry)
        try:
            _grade_in_parallel(todo, out, workers or os.cpu_count() or 1, session, settings, results, progress,
                               recorder)
            if recorder:
                recorder.ready()  # no one to grade: the gradebook is checked all the same
        except KeyboardInterrupt:
            results.errors.update({student: STOPPED for student in todo if student not in results.grades})
        if recorder:
            _finish_recording(recorder, handins, results, bool(stop))
        _record_times(out, handins, results)
        if not stop:
            results.moved = regrade.finish(out, graded_by)
        _write_class_views(out, [handin.student for handin in handins], results, settings.late)
        if stop:
            raise RunStopped(len(results.grades), len(handins) - len(results.problems), stop[0])
        if shard:
            sharding.finish(out, shard, batch, submissions, {handin.student: handin.path for handin in handins
                                                            if handin.path and handin.path.suffix == ".ipynb"})
        return results


@contextmanager
def _stoppable() -> Iterator[list[int]]:
    """Ctrl-C and SIGTERM raise KeyboardInterrupt once (the list then holds the signal); more of
    them, while the run winds down and writes the gradebook, are ignored."""
    caught: list[int] = []
    if threading.current_thread() is not threading.main_thread():  # only the main thread may handle signals
        yield caught
        return

    def stop(signum: int, frame: object) -> None:
        for number in STOP_SIGNALS:
            signal.signal(number, signal.SIG_IGN)
        caught.append(signum)
        raise KeyboardInterrupt

    previous = {number: signal.signal(number, stop) for number in STOP_SIGNALS}
    try:
        yield caught
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _settings(out: Path, seed: int | None, late: LatePolicy | None, force: bool, checks: str) -> RunSettings:
    """This run's settings: the recorded ones, unless it asks for others (which needs --force)."""
    recorded = _recorded(out)
    if recorded is None:
        return RunSettings(secrets.token_hex(8), checks, seed, late)
    differs = [f"{name} {asked} (it was graded with {was})" for name, asked, was in (
        ("--seed", seed, recorded.seed), ("the late policy", _policy_text(late), _policy_text(recorded.late)))
        if asked is not None and asked != was]
    if differs and not force:
        raise ValueError(f"{out} was graded with other settings: this run asks {'; '.join(differs)}. Leave them out"
                         " to finish that run, or pass --force to grade everyone again with the new ones")
    seed = recorded.seed if seed is None else seed
    late = recorded.late if late is None else late
    return RunSettings(secrets.token_hex(8) if force else recorded.run, checks, seed, late)


def _recorded(out: Path) -> RunSettings | None:
    try:
        return RunSettings.from_json((out / MANIFEST).read_text())
    except (OSError, ValueError, KeyError, TypeError):  # none, or not mgkit's: _check_ours decides
        return None


def _policy_text(late: LatePolicy | None) -> str | None:
    return None if late is None else (f"--deadline {late.deadline.isoformat()} --late-penalty "
                                      f"{late.percent_per_day:g} --late-cap {late.cap_percent:g}")


def _check_ours(out: Path, students: list[str], force: bool) -> None:
    """A one-line error, before anything is written, if a file in `out` this run would replace is not mgkit's."""
    if force:
        return
    planned = [out / MANIFEST, out / GRADEBOOK, out / SUMMARY, out / INDEX]
    planned += [out / student / name for student in students for name in (RESULTS, FEEDBACK, FEEDBACK_PAGE, TIMESTAMP)]
    foreign = [path for path in planned if path.exists() and not _is_ours(path)]
    if foreign:
        more = f" (and {len(foreign) - 1} more)" if len(foreign) > 1 else ""
        raise FileExistsError(f"{foreign[0]} exists and mgkit did not write it{more}: pass --force to replace"
                              " it, or another --out")


def _is_ours(path: Path) -> bool:
    """Whether `path` looks as mgkit writes it (each of the class's files has a form of its own)."""
    if path.name == RESULTS:
        return is_results_file(path)
    if path.name in (INDEX, FEEDBACK_PAGE):
        return is_dashboard_page(path)
    try:
        text = path.read_text(errors="replace")[:1000]
    except OSError:
        return False
    first = text.split("\n", 1)[0]
    if path.name == MANIFEST:
        return _recorded(path.parent) is not None
    if path.name == TIMESTAMP:
        try:
            return text.count("\n") == 1 and bool(parse_time(first, str(path)))
        except ValueError:
            return False
    return {GRADEBOOK: first.removeprefix(BOM).startswith("student,total,"),
            FEEDBACK: first.startswith("# micrograd: "),
            SUMMARY: first.startswith("task ") and "mean points" in first}.get(path.name, False)


def _sort_out(handins: list[HandIn], out: Path, settings: RunSettings, results: ClassResults) -> dict[str, HandIn]:
    """The hand-ins to grade now; the others are kept (graded by this very run) or cannot be graded."""
    todo = {}
    for handin in handins:
        earlier = _earlier_results(out / handin.student)
        if handin.problem:
            results.problems[handin.student] = handin.problem
            if earlier:  # a grade of other files, which a merge must not pick up
                _forget(out / handin.student)
        elif earlier and earlier.graded and earlier.provenance == settings.stamp(handin):
            results.grades[handin.student] = earlier
            results.resumed.append(handin.student)
        else:
            todo[handin.student] = handin
            results.regraded += [handin.student] if earlier and earlier.graded else []
    return todo


def _earlier_results(folder: Path) -> GradingResults | None:
    try:
        return read(folder / RESULTS)
    except (OSError, ValueError):  # none, or not one mgkit wrote: grade again
        return None


def _forget(folder: Path) -> None:
    for name in (RESULTS, FEEDBACK, FEEDBACK_PAGE, TIMESTAMP):
        (folder / name).unlink(missing_ok=True)


def _grade_in_parallel(todo: dict[str, HandIn], out: Path, workers: int, session: Session, settings: RunSettings,
                       results: ClassResults, progress: Callable[[int], object] | None, recorder=None) -> None:
    """Grade `todo`, writing each student's results as their grade arrives (here: graders never write), and
    handing each finished grade to `recorder` (an nbgrader course's), which checks its gradebook while the
    graders start."""
    if not todo:
        return
    with Graders(min(workers, len(todo)), session) as graders:
        if recorder:
            recorder.ready()  # a gradebook that cannot take the grades stops the run before any grading
        bar = progress(len(todo)) if progress else None  # after the graders start: no thread before they do
        try:
            for student, answer in graders.grade({student: handin.submission for student, handin in todo.items()}):
                if isinstance(answer, GradingResults):
                    answer = replace(answer, provenance=settings.stamp(todo[student]),
                                     canvas_user_id=todo[student].canvas_user_id,  # for `mgkit export canvas`
                                     late_mark=todo[student].late_mark,  # for `merge`, which sees no hand-in
                                     time_flags=todo[student].time_flags)
                    results.grades[student] = _write_student(out / student, student, answer)
                    if recorder and answer.graded:
                        recorder.add(student, todo[student].path, answer.to_gradescope())
                else:
                    results.errors[student] = answer
                if bar:
                    bar.update()
        finally:
            if bar:
                bar.close()


def _write_student(folder: Path, student: str, results: GradingResults) -> GradingResults:
    folder.mkdir(exist_ok=True)
    write_atomically(folder / FEEDBACK, render_feedback(results, student))
    results.write(folder / RESULTS)  # last: its presence means this student is done
    return results


def _record_times(out: Path, handins: list[HandIn], results: ClassResults) -> None:
    """When each student submitted, in the results and (for `merge`) in OUT/<student>/timestamp.txt."""
    for handin in handins:
        if handin.time_flags:
            results.time_flags[handin.student] = handin.time_flags
        if handin.late_mark is not None:
            results.late_marks[handin.student] = handin.late_mark
        if handin.submitted and handin.student in results.grades:
            write_atomically(out / handin.student / TIMESTAMP, handin.submitted.isoformat() + "\n")
            results.submitted[handin.student] = handin.submitted


def _nbgrader_recorder(submissions: Path, handins: list[HandIn]):
    """For an nbgrader course with a gradebook, its Recorder (platforms/nbgrader_course.py), else None."""
    from ..platforms import nbgrader_course

    course = nbgrader_course.find_course(submissions)
    if course is None:
        return None
    return nbgrader_course.Recorder(course, {handin.path.parent.name for handin in handins
                                             if handin.path and handin.path.suffix == ".ipynb"})


def _finish_recording(recorder, handins: list[HandIn], results: ClassResults, stopped: bool) -> None:
    """The grades kept from earlier runs are recorded too (a rerun records every grade, as autograde --force)."""
    by_student = {handin.student: handin for handin in handins}
    for student in results.resumed:
        recorder.add(student, by_student[student].path, results.grades[student].to_gradescope())
    results.course = recorder.course.root
    results.not_recorded = {student: "no finished grade (see gradebook.csv): its gradebook.db rows are as they were"
                            for student in by_student if not _recordable(results.grades.get(student))}
    results.not_recorded.update(recorder.finish(stopped))
    results.recorded = [student for student in by_student if student not in results.not_recorded]


def _recordable(grade_: GradingResults | None) -> bool:
    return grade_ is not None and grade_.graded


# ---- results graded elsewhere, and the class's files -------------------------------------

def merge(parts: Path, out: Path, late: LatePolicy | None = None, batch: str | None = None) -> ClassResults:
    """One gradebook in `out` from students graded elsewhere: every <student>/results.json under `parts`.

    `parts` holds grade-all's output folders (one per CI job, say) or their student folders;
    each student's results, feedback and timestamp are copied to out/<student>/; the students the
    parts' gradebooks list without results (an empty hand-in, say) keep their rows. Shards of a
    run (`grade_all(shard=...)`) are merged only once all are complete (of `batch`, if given):
    ShardsIncomplete, naming the others, before anything is written.
    """
    if not parts.is_dir():
        raise NotADirectoryError(f"{parts} is not a folder: pass the folder that holds the graded results")
    results_files, books, shards = sharding.merge_sources(parts, batch, RESULTS, GRADEBOOK)
    found: dict[str, Path] = {}
    for path in results_files:
        student = path.parent.name
        if student in found:
            raise ValueError(f"{student} was graded twice ({found[student].parent} and {path.parent}): keep one")
        found[student] = path.parent
    with locked(out):
        results = _merge(found, _ungraded_rows(books, found), out, late)
    recorded = sharding.record_in_course(shards, results.grades)
    if recorded:
        results.course, results.recorded, results.not_recorded = recorded
    return results


def _ungraded_rows(books: list[Path], found: dict[str, Path]) -> dict[str, str]:
    """student -> status, from the parts' gradebooks: who has no results (an empty hand-in, say)."""
    rows: dict[str, str] = {}
    for book in books:
        if book.is_file() and _is_ours(book):
            rows.update({row["student"]: row["status"] for row in read_gradebook(book)
                         if row["student"] not in found})
    return rows


def _merge(found: dict[str, Path], ungraded: dict[str, str], out: Path, late: LatePolicy | None) -> ClassResults:
    results = ClassResults()
    for student, status in ungraded.items():
        reason = status.removeprefix("not graded: ")
        (results.errors if reason != status else results.problems)[student] = reason
    students = sorted([*found, *ungraded], key=str.casefold)
    for student in found:
        if found[student].resolve() != (out / student).resolve():
            (out / student).mkdir(exist_ok=True)
            for name in (RESULTS, FEEDBACK, TIMESTAMP):
                if (found[student] / name).is_file():
                    shutil.copyfile(found[student] / name, out / student / name)
        try:
            results.grades[student] = read(out / student / RESULTS)
        except (OSError, ValueError) as error:
            results.errors[student] = f"its results could not be read ({error})"
        else:
            if results.grades[student].late_mark is not None:
                results.late_marks[student] = results.grades[student].late_mark
            if results.grades[student].time_flags:
                results.time_flags[student] = results.grades[student].time_flags
        try:
            results.submitted[student] = read_time(out / student / TIMESTAMP)
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as error:  # named within OUT: the same flag wherever OUT is
            where = str(error).replace(str(out / student / TIMESTAMP), f"{student}/{TIMESTAMP}")
            results.time_flags[student] = (f"no submission time: {where}",)
    _write_class_views(out, students, results, late)
    return results


def _write_class_views(out: Path, students: list[str], results: ClassResults, late: LatePolicy | None) -> None:
    """gradebook.csv, summary.txt, index.html (and feedback.html), and in each late student's feedback.md what
    the late policy took."""
    for student, grade_ in results.grades.items():
        days = days_late(late, results, student)
        if days and grade_.graded:
            note = late_note(late, grade_, days, results.submitted.get(student))
            write_atomically(out / student / FEEDBACK, render_feedback(grade_, student) + "\n" + note)
    write_atomically(out / GRADEBOOK, gradebook_csv(students, results, late))
    write_atomically(out / SUMMARY, pass_rates(results) + "\n")
    write_dashboard(out, class_rows(students, results, late), late is not None)


def days_late(late: LatePolicy | None, results: ClassResults, student: str) -> int:
    """Days begun after the deadline; a collector's own late mark (Canvas's) decides whether at all."""
    if late is None:
        return 0
    days, mark = late.days_late(results.submitted.get(student)), results.late_marks.get(student)
    return days if mark is None else max(days, 1) if mark else 0


def late_note(late: LatePolicy, grade_: GradingResults, days: int, submitted: datetime | None) -> str:
    """The paragraph of feedback.md that says what lateness cost."""
    lost = late.penalty(grade_.score, days)
    when = f" ({submitted.isoformat()})" if submitted else ""
    return (f"## Late\n\nSubmitted {days} day{'s' if days > 1 else ''} after the deadline{when}:"
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


# ---- the class's views ---------------------------------------------------------------------

def class_rows(students: Iterable[str], results: ClassResults, late: LatePolicy | None = None) -> list[Row]:
    """A Row per student, in the order given."""
    return [_row(student, results, late) for student in students]


def _row(student: str, results: ClassResults, late: LatePolicy | None) -> Row:
    grade_ = results.grades.get(student)
    time_flags = tuple(results.time_flags.get(student, ())) if late else ()
    if grade_ is None:
        problem = results.problems.get(student)
        status = problem or f"not graded: {results.errors.get(student, '?')}"
        return Row(student, _problem_state(problem) if problem else NOT_GRADED, status, flags=time_flags)
    days = days_late(late, results, student)
    lost = late.penalty(grade_.score, days) if late and grade_.graded else 0.0
    state, status = (GRADED, GRADED) if grade_.graded else (GRADER_ERROR, GRADER_FAILED)
    return Row(student, state, status, grade_, grade_.score - lost, results.submitted.get(student), days, lost,
               (*grade_.flags, *time_flags))


def _problem_state(problem: str) -> str:
    """A hand-in with nothing of micrograd in it is empty; one that cannot be opened, unreadable."""
    return EMPTY if problem == EMPTY or problem.startswith("no micrograd") else UNREADABLE


def gradebook_csv(students: Iterable[str], results: ClassResults, late: LatePolicy | None = None) -> str:
    """student, total, points per task, state, status, flags to review: one row per student, in name order.

    With a late policy, `total` is what the policy leaves, and three columns say why: submitted,
    days_late, late_penalty (points); a student's time flags join the flags. The text starts with
    a byte-order mark, so that spreadsheets read it as UTF-8 ("Zoë", not "ZoÃ«").
    """
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["student", "total", *rubric.TASK_IDS, "state", "status", "flags", *(LATE_COLUMNS if late else ())])
    for row in class_rows(students, results, late):
        points = [f"{task.score:g}" for task in row.grade.tasks] if row.grade else [""] * len(rubric.TASK_IDS)
        lateness = _lateness(row) if late else []
        writer.writerow([spreadsheet_cell(row.student), "" if row.total is None else f"{row.total:g}", *points,
                         row.state, spreadsheet_cell(row.status), spreadsheet_cell("; ".join(row.flags)), *lateness])
    return BOM + text.getvalue()


def _lateness(row: Row) -> list[str]:
    if row.grade is None:
        return [""] * len(LATE_COLUMNS)
    return [row.submitted.isoformat() if row.submitted else "", str(row.days_late), f"{row.late_penalty:g}"]


GRADER_FAILED = "grader error: the kit failed on this hand-in, see results.json; a later run grades it again"
BOM = "\ufeff"  # UTF-8's byte-order mark: Excel and LibreOffice then read the file as UTF-8
LATE_COLUMNS = ("submitted", "days_late", "late_penalty")


def read_gradebook(path: Path) -> list[dict[str, str]]:
    """The rows of a gradebook.csv, with or without its byte-order mark (one written before it had one)."""
    rows = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig")))
    return [{name: spreadsheet_value(cell) if name in TEXT_COLUMNS else cell for name, cell in row.items()}
            for row in rows]


TEXT_COLUMNS = ("student", "status", "flags")  # the cells that may hold student text: neutralized when written


def pass_rates(results: ClassResults) -> str:
    """Per task: how many students passed it, and the class's mean points (before any late penalty)."""
    graded = [grade_ for grade_ in results.grades.values() if grade_.graded]
    width = max(len(task_id) for task_id in rubric.TASK_IDS)
    lines = [f"{'task':<{width}}  {'passed':>11}  {'mean points':>11}"]
    for index, task_id in enumerate(rubric.TASK_IDS):
        passed = sum(grade_.tasks[index].passed for grade_ in graded)
        mean = sum(grade_.tasks[index].score for grade_ in graded) / len(graded) if graded else 0.0
        lines.append(f"{task_id:<{width}}  {_rate(passed, len(graded)):>11}  "
                     f"{f'{mean:.1f}/{rubric.BY_ID[task_id].points}':>11}")
    mean_total = sum(grade_.score for grade_ in graded) / len(graded) if graded else 0.0
    # points as graded: gradebook.csv's total (and the dashboard's) is after the late policy, if any
    total = f"{mean_total:.1f}/{rubric.TOTAL_POINTS}"
    lines.append(f"{'total':<{width}}  {'':>11}  {total:>11}  before the late policy")
    not_graded = len(results.grades) - len(graded) + len(results.errors)
    lines.append(f"\n{len(graded)} students graded" + (f", {not_graded} not graded (see {GRADEBOOK})"
                                                          if not_graded else ""))
    if results.problems:
        kinds = Counter(results.problems.values())
        lines.append(f"{len(results.problems)} hand-ins with nothing to grade: "
                     + ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items())))
    return "\n".join(lines)


def _rate(passed: int, total: int) -> str:
    return f"{passed}/{total} {passed / total:>4.0%}" if total else "0/0"


def dry_run(submissions: Path, out: Path, grade_all_options: dict) -> tuple[list[str], list[tuple[str, str, str, str]]]:
    """Grade `submissions` as a rerun over `out` would, in a scratch folder: (what changed in the grader, the
    scores that would move). Nothing in `out` is written."""
    try:
        settings = RunSettings.from_json((out / MANIFEST).read_text())
    except (OSError, ValueError, KeyError, TypeError):
        raise ValueError(f"{out} holds no class run to compare with: --dry-run needs an --out graded before") from None
    options = {"seed": settings.seed, "late": settings.late, **grade_all_options}
    with tempfile.TemporaryDirectory(prefix="mgkit-dry-run-") as scratch:
        grade_all(submissions, Path(scratch), **options)
        now, earlier = regrade.recorded(Path(scratch)), regrade.recorded(out)
        differences = now.differences(earlier) if now and earlier else ["no record of what graded it"]
        return differences, regrade.changes(regrade.scores(out), regrade.scores(Path(scratch)))
