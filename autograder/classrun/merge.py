"""Results graded elsewhere (one folder per CI job, or per shard), gathered into one gradebook.

grade-all keeps a copy of each student's submission time in OUT/<student>/timestamp.txt, so that
`merge` makes the same gradebook from results graded elsewhere as one run would.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ..grading.results import read
from ..reference.outputs import locked
from . import shards as sharding
from .classresults import ClassResults
from .handins import TIMESTAMP, read_time
from .late import LatePolicy
from .out import FEEDBACK, GRADEBOOK, RESULTS, is_ours
from .views import read_gradebook, write_class_views


def merge(parts: Path, out: Path, late: LatePolicy | None = None,
          batch: str | None = None) -> ClassResults:
    """One gradebook in `out` from students graded elsewhere: every <student>/results.json under
    `parts`.

    `parts` holds grade-all's output folders (one per CI job, say) or their student folders;
    each student's results, feedback and timestamp are copied to out/<student>/; the students the
    parts' gradebooks list without results (an empty hand-in, say) keep their rows. Shards of a
    run (`grade_all(shard=...)`) are merged only once all are complete (of `batch`, if given):
    ShardsIncomplete, naming the others, before anything is written.
    """
    if not parts.is_dir():
        raise NotADirectoryError(
            f"{parts} is not a folder: pass the folder that holds the graded results")
    results_files, books, shards = sharding.merge_sources(parts, batch, RESULTS, GRADEBOOK)
    found: dict[str, Path] = {}
    for path in results_files:
        student = path.parent.name
        if student in found:
            raise ValueError(
                f"{student} was graded twice ({found[student].parent} and {path.parent}): keep one")
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
        if book.is_file() and is_ours(book):
            rows.update({row["student"]: row["status"] for row in read_gradebook(book)
                         if row["student"] not in found})
    return rows


def _merge(found: dict[str, Path], ungraded: dict[str, str], out: Path,
           late: LatePolicy | None) -> ClassResults:
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
    write_class_views(out, students, results, late)
    return results
