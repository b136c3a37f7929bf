"""Hand-ins as courses collect them: each layout graded as the student's own work, the rest
named."""

from __future__ import annotations

import json
import os
import zipfile
from datetime import UTC, datetime, timedelta

import nbformat
from fake_entry import CORRECT_ENGINE, JUDGED, ROOMY, engine_answering, write_submission
from nbformat.v4 import new_code_cell, new_notebook

from autograder.classrun.gradebook import GRADEBOOK, SUMMARY, LatePolicy, grade_all
from autograder.classrun.gradebook import read_gradebook as gradebook_rows
from autograder.classrun.handins import FILE_DATES, find_handins
from autograder.reference.rubric import BY_ID, TOTAL_POINTS

LIMITS = ROOMY  # nothing here hangs
DEADLINE = datetime(2025, 3, 1, 23, 59, tzinfo=UTC)
# its own work: a score of its own
WRONG_ENGINE = engine_answering("if task_id == 'zero_grad':\n    return -1")
# 100 and 90 on the kit's course
FULL, WRONG = TOTAL_POINTS, TOTAL_POINTS - BY_ID["zero_grad"].points


def late_total(score: float, days: int, percent_per_day: float) -> str:
    """The gradebook's total of a score `days` late: the policy's share taken (72 for 90 two days
    late at 10%)."""
    return f"{round(score * (100 - percent_per_day * days) / 100, 2):g}"


def notebook(engine: str = CORRECT_ENGINE) -> str:
    return nbformat.writes(
        new_notebook(cells=[new_code_cell(engine, metadata={"mgkit": {
            "module": "engine"
        }})]))


def zipped(path, files: dict[str, str | bytes], links: dict[str, str] = ()) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
        for name, target in dict(links).items():  # a symlink member: never extracted
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o120777 << 16)
            archive.writestr(info, target)


def run(submissions, out, **options):
    """One grader: what these tests read is how each hand-in is found and graded, not the class's
    parallel grading (tests/test_gradebook.py)."""
    return grade_all(submissions, out, workers=1, entry=JUDGED, limits=LIMITS, **options)


def read_gradebook(out):
    return {row["student"]: row for row in gradebook_rows(out / GRADEBOOK)}


def test_every_layout_is_graded_as_the_students_own_work(tmp_path):
    course = tmp_path / "class"
    write_submission(course / "folder")
    (course / "loose" ).mkdir(parents=True)  # the modules without their micrograd/ folder
    (course / "loose" / "engine.py").write_text(WRONG_ENGINE)
    write_submission(course / "github" / "lab-main", WRONG_ENGINE)  # "Download ZIP", unpacked
    write_submission(course / "deeper" / "lab-main" / "src", WRONG_ENGINE)
    (course / "nb.ipynb").write_text(notebook(WRONG_ENGINE))
    zipped(
        course / "zipper.zip", {
            "lab-main/micrograd/engine.py": WRONG_ENGINE,
            "lab-main/README.md": "hi",
            "../escaped.py": "outside",
            "/absolute.py": "outside"
        }, links={"lab-main/micrograd/nn.py": "/etc/passwd"})
    # Canvas: an earlier upload, then -1
    for name, text in {
            "canvasone_123_456_engine.py": CORRECT_ENGINE,
            "canvasone_123_457_engine-1.py": WRONG_ENGINE,
            "canvastwo_late_124_458_lab.ipynb": notebook()
    }.items():
        (course / name).write_text(text)
    os.utime(course / "canvasone_123_456_engine.py", (1, 1))
    results = run(course, tmp_path / "out", say=(said := []).append)
    scores = {student: grade_.score for student, grade_ in results.grades.items()}
    assert scores == {
        "folder": FULL,
        "loose": WRONG,
        "github": WRONG,
        "deeper": WRONG,
        "nb": WRONG,
        "zipper": WRONG,
        "canvasone": WRONG,
        "canvastwo": FULL
    } and not results.problems and not results.errors
    assert said == ["8 students: 4 folders, 1 notebook, 1 zip, 2 from Canvas"]
    assert not (tmp_path / "escaped.py").exists() and not (tmp_path / "out" / "escaped.py").exists()
    # never followed
    assert "nn.py is reached through a symlink" in " ".join(results.grades["zipper"].notes)
    assert results.late_marks == {"canvasone": False, "canvastwo": True}


def test_nbgrader_submitted_tree_with_its_timestamps(tmp_path):
    course = tmp_path / "course"
    (course / "nbgrader_config.py").parent.mkdir()
    (course / "nbgrader_config.py").write_text("c = get_config()\n")
    for student, (engine, moment) in {
            "ada": (CORRECT_ENGINE, "2025-03-01 20:00:00.000000 UTC"),
            "ben": (WRONG_ENGINE, "2025-03-03 10:00:00.000000 UTC")
    }.items():
        folder = course / "submitted" / student / "micrograd_lab"
        # nbgrader's release copies the public checks too
        (folder / "mgkit_checks").mkdir(parents=True)
        (folder / "micrograd_lab.ipynb").write_text(notebook(engine))
        (folder / "timestamp.txt").write_text(moment + "\n")
    for where in (course, course / "submitted"):  # the course folder, or its submitted/
        results = run(where, tmp_path / f"out-{where.name}", late=LatePolicy(DEADLINE, 10))
        assert {
            student: grade_.score
            for student, grade_ in results.grades.items()
        } == {
            "ada": FULL,
            "ben": WRONG
        }
        book = read_gradebook(tmp_path / f"out-{where.name}")
        assert (book["ada"]["days_late"], book["ben"]["days_late"]) == ("0", "2")
        assert book["ben"]["total"] == late_total(WRONG, 2, 10)


def test_what_cannot_be_graded_is_a_row_that_says_so(tmp_path):
    course = tmp_path / "class"
    write_submission(course / "good")
    (course / "empty").mkdir()
    (course / "readme").mkdir()
    (course / "readme" / "README.md").write_text("I did it in my head\n")
    (course / "broken.ipynb").write_text('{"cells": [')
    (course / "blank.ipynb").write_text("")
    (course / "untagged.ipynb").write_text(
        nbformat.writes(new_notebook(cells=[new_code_cell("x = 1")])))
    (course / "notzip.zip").write_text("not a zip")
    zipped(course / "emptyzip.zip", {})
    (course / "stray.py").write_text("print('hi')\n")
    (course / "notes.txt").write_text("the instructor's, not a hand-in")
    results = run(course, tmp_path / "out")
    assert results.problems == {
        "blank": "empty",
        "broken": "unreadable: not a notebook",
        "empty": "empty",
        "emptyzip": "empty",
        "notzip": "unreadable: not a zip (BadZipFile)",
        "readme": "no micrograd files",
        "stray": "unreadable: a loose .py file, not a folder, notebook or zip",
        "untagged": "no micrograd cells (none tagged mgkit.module)"
    }
    book = read_gradebook(tmp_path / "out")
    assert set(book) == {"good", *results.problems} and book["good"]["status"] == "graded"
    assert all(book[student]["total"] == "" and book[student]["status"] == why
               for student, why in results.problems.items())
    summary = (tmp_path / "out" / SUMMARY).read_text()
    assert ("1 students graded\n"
            "8 hand-ins with nothing to grade: 3 empty, 1 no micrograd cells") in summary


def test_a_zip_bomb_and_a_crowd_of_files_are_refused(tmp_path, monkeypatch):
    from autograder.classrun import reader

    monkeypatch.setattr(reader, "MAX_BYTES", 2**20)
    monkeypatch.setattr(reader, "MAX_ENTRIES", 3)
    zipped(tmp_path / "bomb.zip", {"lab.ipynb": b"#" * (2**21)})  # compresses to 2 KB
    # too large to be a module
    zipped(tmp_path / "big.zip", {"micrograd/engine.py": b"#" * (2**20)})
    zipped(tmp_path / "crowd.zip", {f"micrograd/{n}.py": "" for n in range(4)})
    found = {handin.student: handin.problem for handin in find_handins(tmp_path)}
    assert found == {"bomb": "unreadable: more than 1 MB of files in all",
                     "big": "unreadable: micrograd/engine.py is larger than 512 KB",
                     "crowd": "unreadable: more than 3 files and folders"}


def test_the_time_comes_from_the_collector_never_from_the_student(tmp_path):
    course = tmp_path / "class"
    late = (DEADLINE + timedelta(days=4)).timestamp()
    for student in ("forger", "honest"):
        write_submission(course / student)
        for path in (course / student / "micrograd").iterdir():
            os.utime(path, (late, late))
    # "on time", says the forger
    (course / "forger" / "timestamp.txt").write_text("2025-03-01T12:00:00+00:00\n")
    write_submission(course / "collected")
    # the collector's own note
    (course / "collected.timestamp.txt").write_text("2025-03-02T01:00:00+00:00\n")
    run(course, tmp_path / "out", late=LatePolicy(DEADLINE, 10))
    book = read_gradebook(tmp_path / "out")
    assert [book[s]["days_late"] for s in ("forger", "honest", "collected")] == ["4", "4", "1"]
    # 60 on the kit's
    assert book["forger"]["total"] == book["honest"]["total"] == late_total(FULL, 4, 10)
    assert "its own timestamp.txt says 2025-03-01T12:00:00+00:00 (ignored" in book["forger"][
        "flags"]
    # file dates say so
    assert book["honest"]["flags"] == FILE_DATES and book["collected"]["flags"] == ""


def test_a_folder_and_a_notebook_of_the_same_name_are_both_graded(tmp_path):
    write_submission(tmp_path / "alice")
    (tmp_path / "alice.ipynb").write_text(notebook())
    found = find_handins(tmp_path)
    assert [(handin.student, handin.kind) for handin in found] == [("alice", "folder"),
                                                                   ("alice.notebook", "notebook")]
    # the hand-ins themselves untouched
    assert json.loads((tmp_path / "alice.ipynb").read_text())["cells"]
