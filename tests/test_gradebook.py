"""grade_all: a class in parallel, resumable, one student's trouble never stopping the batch."""

from __future__ import annotations

import functools
import json
import shutil
from pathlib import Path

import fatal_grade
import nbformat
import pytest
from fake_entry import CORRECT_ENGINE, JUDGED, ROOMY, engine_answering, write_submission
from nbformat.v4 import new_code_cell, new_notebook

from autograder.classrun import gradebook
from autograder.classrun.classresults import ClassResults
from autograder.classrun.gradebook import FEEDBACK, GRADEBOOK, RESULTS, SUMMARY, grade_all
from autograder.classrun.gradebook import read_gradebook as gradebook_rows
from autograder.classrun.graders import Session
from autograder.grading.loop import checks_fingerprint
from autograder.grading.results import GradingResults
from autograder.reference.rubric import BY_ID, TASK_IDS, TOTAL_POINTS

# nothing here waits for a deadline: a hang in a class run is the red team's to grade
LIMITS = ROOMY
FULL = f"{TOTAL_POINTS:g}"
# chloé's total: all but zero_grad's points
NO_ZERO_GRAD = f"{TOTAL_POINTS - BY_ID['zero_grad'].points:g}"


def make_class(folder):
    """Four students: two right (a folder, a notebook), one whose task breaks a limit, one empty
    folder."""
    write_submission(folder / "alice")
    nbformat.write(
        new_notebook(
            cells=[new_code_cell(CORRECT_ENGINE, metadata={"mgkit": {
                "module": "engine"
            }})]), folder / "bob.ipynb")
    write_submission(  # her zero_grad runs into the memory limit: told at once, unlike a hang
        folder / "chloé smith",
        engine_answering("if task_id == 'zero_grad':\n    hog = bytearray(2**40)"))
    (folder / "dan").mkdir()
    (folder / "notes.txt").write_text("not a submission")
    (folder / ".hidden").mkdir()
    return folder


def run(submissions, out, **options):
    return grade_all(submissions, out, workers=2, entry=JUDGED, limits=LIMITS,
                     **options)


def read_gradebook(out):
    return {row["student"]: row for row in gradebook_rows(out / GRADEBOOK)}


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory) -> tuple[Path, ClassResults]:
    """The class graded once with seed 5, for the tests that read it and those that go on from a
    copy."""
    folder = tmp_path_factory.mktemp("graded")
    return folder, run(make_class(folder / "submissions"), folder / "out", seed=5)


def copy_of(graded_class: tuple[Path, ClassResults], to: Path) -> tuple[Path, Path]:
    """The graded class's hand-ins and OUT, in a folder of the test's own: (submissions, out)."""
    shutil.copytree(graded_class[0], to, dirs_exist_ok=True)
    return to / "submissions", to / "out"


def test_a_class_is_graded_into_a_gradebook(graded_class):
    folder, results = graded_class
    out = folder / "out"
    assert sorted(results.grades) == ["alice", "bob", "chloé smith"] and not results.errors
    assert results.problems == {"dan": "empty"}
    book = read_gradebook(out)
    assert list(book["alice"]) == ["student", "total", *TASK_IDS, "state", "status", "flags"]
    # spreadsheets read it as UTF-8
    assert (out / GRADEBOOK).read_bytes().startswith("\ufeffstudent,".encode())
    assert {name: row["state"] for name, row in book.items()} == {
        "alice": "graded", "bob": "graded", "chloé smith": "graded", "dan": "empty"}
    assert book["chloé smith"]["flags"] == "" and book["alice"]["status"] == "graded"
    assert [book[name]["total"]
            for name in ("alice", "bob", "chloé smith", "dan")] == [FULL, FULL, NO_ZERO_GRAD, ""]
    chloe = book["chloé smith"]
    assert chloe["zero_grad"] == "0" and chloe["topo_sort"] == str(BY_ID["topo_sort"].points)
    # never a 0 that looks graded
    assert book["dan"]["status"] == "empty" and not (out / "dan").exists()
    for student in ("alice", "bob", "chloé smith"):
        data = json.loads((out / student / RESULTS).read_text())
        assert len(data["tests"]) == len(TASK_IDS) and data["extra_data"]["seed"] == 5
        assert (out / student / FEEDBACK).read_text().startswith(f"# micrograd: `{student}`")
    summary = (out / SUMMARY).read_text()
    assert "zero_grad" in summary and "2/3" in summary and "3 students graded" in summary
    assert "1 hand-ins with nothing to grade: 1 empty" in summary


def test_a_second_run_resumes_this_run_and_regrades_what_changed(graded_class, tmp_path):
    submissions, out = copy_of(graded_class, tmp_path)
    kept = (out / "chloé smith" / RESULTS).read_text()
    # bob: graded again
    GradingResults.not_graded("the zygote did not start", 1).write(out / "bob" / RESULTS)
    (submissions / "alice" / "micrograd" / "nn.py").write_text("# resubmitted\n")  # alice: changed
    again = run(submissions, out)
    assert again.resumed == ["chloé smith"] and sorted(
        again.grades) == ["alice", "bob", "chloé smith"]
    assert again.regraded == ["alice"]  # bob's earlier results were no grade at all
    assert (out / "chloé smith" / RESULTS).read_text() == kept  # not written again
    assert read_gradebook(out)["bob"]["total"] == FULL
    # a new run: none of the last one's results count
    assert run(submissions, out, force=True).resumed == []


def test_an_interrupted_forced_run_resumes_with_its_own_results_only(graded_class, tmp_path):
    submissions, out = copy_of(graded_class, tmp_path)

    class StopAfterOne:  # the progress bar hears of the first grade, then Ctrl-C
        def update(self):
            raise KeyboardInterrupt

        def close(self):
            pass

    stopped = grade_all(submissions, out, workers=1, entry=JUDGED, limits=LIMITS, force=True,
                        progress=lambda total: StopAfterOne())
    assert len(stopped.grades) == 1 and len(stopped.errors) == 2
    assert all(why.startswith("the run was stopped") for why in stopped.errors.values())
    book = read_gradebook(out)
    assert sorted(row["status"] for row in book.values())[:2] == ["empty", "graded"]
    resumed = run(submissions, out)
    assert resumed.resumed == list(stopped.grades)  # the rest were the previous run's: graded again
    assert sorted(resumed.regraded) == sorted(stopped.errors)


def test_a_grader_that_dies_costs_one_student_and_is_replaced(tmp_path, monkeypatch):
    submissions, out = make_class(tmp_path / "submissions"), tmp_path / "out"
    write_submission(submissions / "eve", engine_answering("return 'end the grader'"))
    monkeypatch.setattr(gradebook, "Session", functools.partial(Session, grade=fatal_grade.grade))
    results = run(submissions, out)
    assert results.errors == {"eve": "its grading process stopped (exit code 3)"}
    assert sorted(results.grades) == ["alice", "bob", "chloé smith"]
    assert read_gradebook(
        out)["eve"]["status"] == "not graded: its grading process stopped (exit code 3)"
    assert not (out / "eve" / RESULTS).exists()


def test_the_checks_fingerprint_changes_with_the_checks(tmp_path, monkeypatch):
    package = tmp_path / "my_checks"
    package.mkdir()
    (package / "__init__.py").write_text("from .hidden import judge\n")
    (package / "hidden.py").write_text("def judge(seed, outcomes):\n    return []\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    first = checks_fingerprint("my_checks:judge")
    assert checks_fingerprint("my_checks:judge") == first and checks_fingerprint(JUDGED) != first
    (package / "hidden.py").write_text("def judge(seed, outcomes):\n    return [1]\n")
    assert checks_fingerprint("my_checks:judge") != first
    with pytest.raises(ModuleNotFoundError):
        checks_fingerprint("no_such_checks:run")
