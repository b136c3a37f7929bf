"""The class's views: gradebook.csv, summary.txt, index.html (the dashboard) and the late notes in
feedback.md, all made from one row per student (rows.py), so that every view shows the same numbers.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from ..grading.results import render_feedback
from ..reference import rubric
from ..reference.outputs import spreadsheet_cell, spreadsheet_value, write_atomically
from .classresults import ClassResults
from .dashboard import write_dashboard
from .late import LatePolicy, days_late, late_note
from .out import BOM, FEEDBACK, GRADEBOOK, SUMMARY
from .rows import EMPTY, GRADED, GRADER_ERROR, NOT_GRADED, UNREADABLE, Row


def write_class_views(out: Path, students: list[str], results: ClassResults,
                      late: LatePolicy | None) -> None:
    """gradebook.csv, summary.txt, index.html (and feedback.html), and in each late student's
    feedback.md what the late policy took."""
    for student, grade_ in results.grades.items():
        days = days_late(late, results, student)
        if days and grade_.graded:
            note = late_note(late, grade_, days, results.submitted.get(student))
            write_atomically(out / student / FEEDBACK,
                             render_feedback(grade_, student) + "\n" + note)
    write_atomically(out / GRADEBOOK, gradebook_csv(students, results, late))
    write_atomically(out / SUMMARY, pass_rates(results) + "\n")
    write_dashboard(out, class_rows(students, results, late), late is not None)


def class_rows(students: Iterable[str], results: ClassResults,
               late: LatePolicy | None = None) -> list[Row]:
    """A Row per student, in the order given."""
    return [_row(student, results, late) for student in students]


def _row(student: str, results: ClassResults, late: LatePolicy | None) -> Row:
    grade_ = results.grades.get(student)
    time_flags = tuple(results.time_flags.get(student, ())) if late else ()
    if grade_ is None:
        problem = results.problems.get(student)
        status = problem or f"not graded: {results.errors.get(student, '?')}"
        return Row(student,
                   _problem_state(problem) if problem else NOT_GRADED, status, flags=time_flags)
    days = days_late(late, results, student)
    lost = late.penalty(grade_.score, days) if late and grade_.graded else 0.0
    state, status = (GRADED, GRADED) if grade_.graded else (GRADER_ERROR, GRADER_FAILED)
    return Row(student, state, status, grade_, grade_.score - lost, results.submitted.get(student),
               days, lost, (*grade_.flags, *time_flags))


def _problem_state(problem: str) -> str:
    """A hand-in with nothing of micrograd in it is empty; one that cannot be opened, unreadable."""
    return EMPTY if problem == EMPTY or problem.startswith("no micrograd") else UNREADABLE


def gradebook_csv(students: Iterable[str], results: ClassResults,
                  late: LatePolicy | None = None) -> str:
    """student, total, points per task, state, status, flags to review: one row per student, in name
    order.

    With a late policy, `total` is what the policy leaves, and three columns say why: submitted,
    days_late, late_penalty (points); a student's time flags join the flags. The text starts with
    a byte-order mark, so that spreadsheets read it as UTF-8 ("Zoë", not "ZoÃ«").
    """
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow([
        "student", "total", *rubric.TASK_IDS, "state", "status", "flags",
        *(LATE_COLUMNS if late else ())
    ])
    for row in class_rows(students, results, late):
        points = [f"{task.score:g}"
                  for task in row.grade.tasks] if row.grade else [""] * len(rubric.TASK_IDS)
        lateness = _lateness(row) if late else []
        writer.writerow([
            spreadsheet_cell(row.student), "" if row.total is None else f"{row.total:g}", *points,
            row.state,
            spreadsheet_cell(row.status),
            spreadsheet_cell("; ".join(row.flags)), *lateness
        ])
    return BOM + text.getvalue()


def _lateness(row: Row) -> list[str]:
    if row.grade is None:
        return [""] * len(LATE_COLUMNS)
    return [
        row.submitted.isoformat() if row.submitted else "",
        str(row.days_late), f"{row.late_penalty:g}"
    ]


GRADER_FAILED = (
    "grader error: the kit failed on this hand-in, see results.json; a later run grades it again"
)


LATE_COLUMNS = ("submitted", "days_late", "late_penalty")


def read_gradebook(path: Path) -> list[dict[str, str]]:
    """The rows of a gradebook.csv, with or without its byte-order mark (one written before it had
    one)."""
    rows = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig")))
    return [{
        name: spreadsheet_value(cell) if name in TEXT_COLUMNS else cell
        for name, cell in row.items()
    } for row in rows]


# the cells that may hold student text: neutralized when written
TEXT_COLUMNS = ("student", "status", "flags")


def pass_rates(results: ClassResults) -> str:
    """Per task: how many students passed it, and the class's mean points (before any late
    penalty)."""
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
    lines.append(f"\n{len(graded)} students graded" +
                 (f", {not_graded} not graded (see {GRADEBOOK})" if not_graded else ""))
    if results.problems:
        kinds = Counter(results.problems.values())
        lines.append(f"{len(results.problems)} hand-ins with nothing to grade: "
                     + ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items())))
    return "\n".join(lines)


def _rate(passed: int, total: int) -> str:
    return f"{passed}/{total} {passed / total:>4.0%}" if total else "0/0"
