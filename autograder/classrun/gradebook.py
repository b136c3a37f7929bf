"""Grading a class: `grade_all(submissions, out)`, the Python API under `mgkit grade-all`.

    SUBMISSIONS/alice/micrograd/engine.py ...   a hand-in per student, as collected (handins.py)
    SUBMISSIONS/bob.ipynb
        -> OUT/alice/results.json, OUT/alice/feedback.md, ..., OUT/gradebook.csv, OUT/summary.txt

A grade exists only when grading finished. Students are graded in parallel (graders.py), and
the main process alone writes each one's results, once, atomically, stamped with the run, the
checks' fingerprint and the hand-in's content. A later run keeps only the results stamped as it
would stamp them: an interrupted run resumes, a changed hand-in or changed checks are graded
again, and `force` starts a new run. The run's settings (seed, late policy) are kept in
OUT/.mgkit-run.json (out.py): a rerun that leaves them out reuses them, one that changes them stops
and says what differs (or, with `force`, grades again under the new ones).

OUT is the kit's: one run at a time writes there (a lock the kernel drops when the run dies),
and a file there that mgkit did not write is never replaced without `force` (out.py).

Late work: with a `LatePolicy` (late.py), the gradebook (views.py) shows when each student submitted
(handins.py: the collector's time, never the student's), how many days late (a day begun counts),
and the points the policy takes; `total` is what remains. grade-all keeps a copy of the time in
OUT/<student>/timestamp.txt, so that `merge` (merge.py) can make one gradebook from results graded
elsewhere (one folder per CI job, say).
"""

from __future__ import annotations

import os
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from ..grading.loop import checks_fingerprint
from ..grading.results import GradingResults, read, render_feedback
from ..grading.submission import run_scratch
from ..grading.worker import ENTRY
from ..reference.outputs import locked, write_atomically
from ..sandbox import DEFAULT_LIMITS, Limits
from . import regrade
from . import shards as sharding
from .classresults import STOPPED, ClassResults, RunStopped
from .dashboard import FEEDBACK_PAGE, INDEX
from .graders import STOP_SIGNALS, Graders, Session
from .handins import TIMESTAMP, HandIn, describe, find_handins, parse_time
from .late import LatePolicy
from .merge import merge
from .out import (
    FEEDBACK,
    GRADEBOOK,
    MANIFEST,
    RESULTS,
    SUMMARY,
    RunSettings,
    check_ours,
    settings_for,
)
from .shards import in_shard
from .views import (
    class_rows,
    gradebook_csv,
    pass_rates,
    read_gradebook,
    write_class_views,
)

# the run is this module's; the rest it re-exports, from the modules that do one job each:
# classresults (what a run gives back), out (OUT's files, settings and ownership), late (the late
# policy), views (gradebook.csv, summary.txt, the dashboard), merge (results graded elsewhere)
__all__ = [
    "FEEDBACK", "GRADEBOOK", "INDEX", "MANIFEST", "RESULTS", "SUMMARY", "TIMESTAMP", "ClassResults",
    "LatePolicy", "RunStopped", "class_rows", "dry_run", "grade_all", "gradebook_csv", "merge",
    "parse_time", "pass_rates", "read_gradebook"
]


def grade_all(submissions: Path, out: Path, workers: int | None = None, force: bool = False,
              seed: int | None = None, progress: Callable[[int], object] | None = None,
              entry: str = ENTRY, limits: Limits = DEFAULT_LIMITS,
              late: LatePolicy | None = None, say: Callable[[str], object] | None = None,
              shard: tuple[int, int] | None = None, batch: str | None = None,
              also_skip: Path | None = None) -> ClassResults:
    """Grade every student in `submissions` into `out`; RunStopped (after writing the gradebook) on
    Ctrl-C.

    `seed` and `late` left out: the ones this `out` was graded with, if any. `progress(total)`
    makes a bar with .update(); `say` hears what was found before grading starts. `entry`
    names what the sandbox's workers run (a test's fake entry; the judge is always the kit's).
    `shard` (I, N): only the students of that share (shards.py), for `merge` to gather once every
    shard (of `batch`) is complete. `also_skip`: a folder besides `out` that is no hand-in (a dry
    run's real --out, inside `submissions`).
    """
    with _stoppable() as stop, locked(out), run_scratch() as scratch:
        not_handins = [out] + ([also_skip] if also_skip else [])
        handins = [
            handin for handin in find_handins(submissions, skip=not_handins)
            if in_shard(handin.student, shard)
        ]
        if say:
            say(describe(handins))
        # an nbgrader course: its gradebook gets the grades (a shard's, once, at the merge)
        recorder = None if shard else _nbgrader_recorder(submissions, handins)
        settings = settings_for(out, seed, late, force, checks_fingerprint(entry))
        check_ours(out, [handin.student for handin in handins], force)
        write_atomically(out / MANIFEST, settings.to_json())
        if shard:
            sharding.begin(out, shard, batch)
        graded_by = regrade.GradedBy.now(settings.checks, settings.seed)
        # a grader other than the last: its scores kept aside, for regrade.csv
        regrade.begin(out, graded_by)
        results = ClassResults()
        todo = _sort_out(handins, out, settings, results)
        hide = tuple(path.resolve() for path in (submissions, out, scratch))  # every student's work
        session = Session(settings.seed, limits, hide, scratch, entry)
        try:
            _grade_in_parallel(todo, out, workers or os.cpu_count() or 1, session, settings,
                               results, progress, recorder)
            if recorder:
                recorder.ready()  # no one to grade: the gradebook is checked all the same
        except KeyboardInterrupt:
            results.errors.update({
                student: STOPPED
                for student in todo if student not in results.grades
            })
        if recorder:
            _finish_recording(recorder, handins, results, bool(stop))
        _record_times(out, handins, results)
        if not stop:
            results.moved = regrade.finish(out, graded_by)
        write_class_views(out, [handin.student for handin in handins], results, settings.late)
        if stop:
            raise RunStopped(len(results.grades), len(handins) - len(results.problems), stop[0])
        if shard:
            sharding.finish(
                out, shard, batch, submissions, {
                    handin.student: handin.path
                    for handin in handins if handin.path and handin.path.suffix == ".ipynb"
                })
        return results


@contextmanager
def _stoppable() -> Iterator[list[int]]:
    """Ctrl-C and SIGTERM raise KeyboardInterrupt once (the list then holds the signal); more of
    them, while the run winds down and writes the gradebook, are ignored."""
    caught: list[int] = []
    # only the main thread may handle signals
    if threading.current_thread() is not threading.main_thread():
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


def _sort_out(handins: list[HandIn], out: Path, settings: RunSettings,
              results: ClassResults) -> dict[str, HandIn]:
    """The hand-ins to grade now; the others are kept (graded by this very run) or cannot be
    graded."""
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


def _grade_in_parallel(todo: dict[str, HandIn], out: Path, workers: int, session: Session,
                       settings: RunSettings, results: ClassResults,
                       progress: Callable[[int], object] | None, recorder=None) -> None:
    """Grade `todo`, writing each student's results as their grade arrives (here: graders never
    write), and handing each finished grade to `recorder` (an nbgrader course's), which checks its
    gradebook while the graders start."""
    if not todo:
        return
    with Graders(min(workers, len(todo)), session) as graders:
        if recorder:
            # a gradebook that cannot take the grades stops the run before any grading
            recorder.ready()
        # after the graders start: no thread before they do
        bar = progress(len(todo)) if progress else None
        try:
            for student, answer in graders.grade({
                    student: handin.submission
                    for student, handin in todo.items()
            }):
                if isinstance(answer, GradingResults):
                    answer = replace(answer, provenance=settings.stamp(todo[student]),
                                     # for `mgkit export canvas`
                                     canvas_user_id=todo[student].canvas_user_id,
                                     # for `merge`, which sees no hand-in
                                     late_mark=todo[student].late_mark,
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
    """When each student submitted, in the results and (for `merge`) in
    OUT/<student>/timestamp.txt."""
    for handin in handins:
        if handin.time_flags:
            results.time_flags[handin.student] = handin.time_flags
        if handin.late_mark is not None:
            results.late_marks[handin.student] = handin.late_mark
        if handin.submitted and handin.student in results.grades:
            write_atomically(out / handin.student / TIMESTAMP, handin.submitted.isoformat() + "\n")
            results.submitted[handin.student] = handin.submitted


def _nbgrader_recorder(submissions: Path, handins: list[HandIn]):
    """For an nbgrader course with a gradebook, its Recorder (platforms/nbgrader_course.py), else
    None."""
    from ..platforms import nbgrader_course

    course = nbgrader_course.find_course(submissions)
    if course is None:
        return None
    return nbgrader_course.Recorder(course, {handin.path.parent.name for handin in handins
                                             if handin.path and handin.path.suffix == ".ipynb"})


def _finish_recording(recorder, handins: list[HandIn], results: ClassResults,
                      stopped: bool) -> None:
    """The grades kept from earlier runs are recorded too (a rerun records every grade, as autograde
    --force)."""
    by_student = {handin.student: handin for handin in handins}
    for student in results.resumed:
        recorder.add(student, by_student[student].path, results.grades[student].to_gradescope())
    results.course = recorder.course.root
    results.not_recorded = {
        student: "no finished grade (see gradebook.csv): its gradebook.db rows are as they were"
        for student in by_student if not _recordable(results.grades.get(student))
    }
    results.not_recorded.update(recorder.finish(stopped))
    results.recorded = [student for student in by_student if student not in results.not_recorded]


def _recordable(grade_: GradingResults | None) -> bool:
    return grade_ is not None and grade_.graded


def dry_run(submissions: Path, out: Path,
            grade_all_options: dict) -> tuple[list[str], list[tuple[str, str, str, str]]]:
    """Grade `submissions` as a rerun over `out` would, in a scratch folder: (what changed in the
    grader, the scores that would move). Nothing in `out` is written."""
    try:
        settings = RunSettings.from_json((out / MANIFEST).read_text())
    except (OSError, ValueError, KeyError, TypeError):
        raise ValueError(
            f"{out} holds no class run to compare with: --dry-run needs an --out graded before"
        ) from None
    options = {"seed": settings.seed, "late": settings.late, **grade_all_options}
    with tempfile.TemporaryDirectory(prefix="mgkit-dry-run-") as scratch:
        grade_all(submissions, Path(scratch), also_skip=out, **options)
        now, earlier = regrade.recorded(Path(scratch)), regrade.recorded(out)
        differences = now.differences(earlier) if now and earlier else [
            "no record of what graded it"
        ]
        return differences, regrade.changes(regrade.scores(out), regrade.scores(Path(scratch)))
