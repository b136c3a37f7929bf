"""Grading a class: `grade_all(submissions, out)`, the Python API under `mgkit grade-all`.

    SUBMISSIONS/alice/micrograd/engine.py ...    one folder or notebook per student
    SUBMISSIONS/bob.ipynb
        -> OUT/alice/results.json, OUT/alice/feedback.md, ..., OUT/gradebook.csv, OUT/summary.txt

Students are graded in parallel, one grading process per core, each with its own sandbox
(zygote). A student who already has results in OUT is skipped unless `force`, so an interrupted
run resumes where it stopped. One student's failure never stops the batch: a submission that
cannot be graded at all is listed as such, and the rest carry on.
"""

from __future__ import annotations

import csv
import importlib
import io
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing.util import Finalize
from pathlib import Path

from .grading import grade
from .results import GradingResults, read, render_feedback, write_atomically
from .rubric import BY_ID, TASK_IDS, TOTAL_POINTS
from .sandbox import DEFAULT_LIMITS, Limits, Sandbox
from .submission import SubmissionError

RESULTS = "results.json"
FEEDBACK = "feedback.md"
GRADEBOOK = "gradebook.csv"
SUMMARY = "summary.txt"


@dataclass
class ClassResults:
    """Every student's grade (this run's and earlier ones), and who could not be graded at all."""

    grades: dict[str, GradingResults] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # student -> why there is no grade
    resumed: list[str] = field(default_factory=list)  # students whose earlier results were kept


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
        found.setdefault(entry.stem if entry.suffix == ".ipynb" else entry.name, entry)
    return found


def grade_all(submissions: Path, out: Path, workers: int | None = None, force: bool = False,
              seed: int | None = None, progress: Callable[[int], object] | None = None,
              checks: str = "autograder.checks", limits: Limits = DEFAULT_LIMITS) -> ClassResults:
    """Grade every student in `submissions` into `out`; `progress(total)` makes a bar with .update().

    `checks` names the checks module (a test's fake, imported in the grading processes).
    """
    students = find_submissions(submissions, out)
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
    write_atomically(out / GRADEBOOK, gradebook_csv(students, results))
    write_atomically(out / SUMMARY, pass_rates(results) + "\n")
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


# ---- the class's views ---------------------------------------------------------------------

def gradebook_csv(students: dict[str, Path], results: ClassResults) -> str:
    """student, total, points per task, status, flags to review: one row per student, in name order."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["student", "total", *TASK_IDS, "status", "flags"])
    for student in students:
        grade_ = results.grades.get(student)
        if grade_ is None:
            writer.writerow([student, "", *[""] * len(TASK_IDS), f"not graded: {results.errors.get(student, '?')}",
                             ""])
        else:
            writer.writerow([student, f"{grade_.score:g}", *(f"{task.score:g}" for task in grade_.tasks),
                             "graded" if grade_.graded else "not graded: the grader failed, see results.json",
                             "; ".join(grade_.flags)])
    return text.getvalue()


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
