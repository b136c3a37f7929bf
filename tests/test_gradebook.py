"""grade_all: a class in parallel, resumable, one student's trouble never stopping the batch."""

from __future__ import annotations

import csv
import io
import json

import nbformat
import pytest
from fake_checks import CORRECT_ENGINE, engine_answering, write_submission
from nbformat.v4 import new_code_cell, new_notebook

from autograder import gradebook
from autograder.gradebook import FEEDBACK, GRADEBOOK, RESULTS, SUMMARY, find_submissions, grade_all
from autograder.results import GradingResults
from autograder.rubric import TASK_IDS
from autograder.sandbox import Limits

LIMITS = Limits(seconds=1.0, memory_mb=256, output_bytes=64 * 1024)


def make_class(folder):
    """Four students: two right (a folder, a notebook), one with a hang in one task, one empty."""
    write_submission(folder / "alice")
    nbformat.write(new_notebook(cells=[new_code_cell(CORRECT_ENGINE, metadata={"mgkit": {"module": "engine"}})]),
                   folder / "bob.ipynb")
    write_submission(folder / "chloé smith", engine_answering("if task_id == 'zero_grad':\n    while True: pass"))
    (folder / "dan").mkdir()
    (folder / "notes.txt").write_text("not a submission")
    (folder / ".hidden").mkdir()
    return folder


def run(submissions, out, **options):
    return grade_all(submissions, out, workers=2, checks="fake_checks", limits=LIMITS, **options)


def read_gradebook(out):
    return {row["student"]: row for row in csv.DictReader(io.StringIO((out / GRADEBOOK).read_text()))}


def test_a_class_is_graded_into_a_gradebook(tmp_path):
    submissions, out = make_class(tmp_path / "submissions"), tmp_path / "out"
    results = run(submissions, out, seed=5)
    assert sorted(results.grades) == ["alice", "bob", "chloé smith", "dan"] and not results.errors
    book = read_gradebook(out)
    assert list(book["alice"]) == ["student", "total", *TASK_IDS, "status", "flags"]
    assert book["chloé smith"]["flags"] == "" and book["alice"]["status"] == "graded"
    assert [book[name]["total"] for name in ("alice", "bob", "chloé smith", "dan")] == ["100", "100", "90", "0"]
    assert book["chloé smith"]["zero_grad"] == "0" and book["chloé smith"]["topo_sort"] == "14"
    for student in book:
        data = json.loads((out / student / RESULTS).read_text())
        assert len(data["tests"]) == len(TASK_IDS) and data["extra_data"]["seed"] == 5
        assert (out / student / FEEDBACK).read_text().startswith(f"# micrograd: {student}")
    summary = (out / SUMMARY).read_text()
    assert "zero_grad" in summary and "3/4" in summary and "4 students graded" in summary


def test_a_second_run_resumes_and_force_grades_again(tmp_path):
    submissions, out = make_class(tmp_path / "submissions"), tmp_path / "out"
    run(submissions, out)
    seeds = {student: json.loads((out / student / RESULTS).read_text())["extra_data"]["seed"]
             for student in ("alice", "bob")}
    (out / "bob" / RESULTS).write_text('{"score": 100}')  # not mgkit's: bob is graded again
    GradingResults.not_graded("the zygote did not start", 1).write(out / "dan" / RESULTS)  # and dan
    again = run(submissions, out)
    assert sorted(again.resumed) == ["alice", "chloé smith"]
    assert json.loads((out / "alice" / RESULTS).read_text())["extra_data"]["seed"] == seeds["alice"]
    assert read_gradebook(out)["bob"]["total"] == "100"
    assert run(submissions, out, force=True).resumed == []


def test_one_students_failure_never_stops_the_batch(tmp_path, monkeypatch):
    submissions, out = make_class(tmp_path / "submissions"), tmp_path / "out"
    real = gradebook.grade

    def grade_unless_bob(path, *args, **kwargs):  # the grading processes are forked: they see this
        if path.stem == "bob":
            raise OSError("bob's disk is unreadable")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(gradebook, "grade", grade_unless_bob)
    results = run(submissions, out)
    assert results.errors == {"bob": "bob's disk is unreadable"} and len(results.grades) == 3
    assert read_gradebook(out)["bob"]["status"].startswith("not graded: bob's disk")
    assert not (out / "bob" / RESULTS).exists()


def test_submissions_are_one_folder_or_notebook_per_student(tmp_path):
    submissions = make_class(tmp_path / "submissions")
    out = submissions / "graded"  # an --out inside the submissions is not a student
    out.mkdir()
    assert list(find_submissions(submissions, out)) == ["alice", "bob", "chloé smith", "dan"]
    with pytest.raises(NotADirectoryError):
        find_submissions(submissions / "notes.txt")


def test_a_folder_and_a_notebook_of_the_same_name_are_both_graded(tmp_path):
    (tmp_path / "alice").mkdir()
    (tmp_path / "alice.ipynb").write_text("{}")
    assert find_submissions(tmp_path) == {"alice": tmp_path / "alice", "alice.ipynb": tmp_path / "alice.ipynb"}
