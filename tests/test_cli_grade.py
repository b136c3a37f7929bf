"""`mgkit grade`, `grade-all` and `demo` with the kit's real hidden checks: what the contract
promises."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

import autograder.grading.judge
from autograder.cli import main
from autograder.grading.submission import starter
from autograder.reference.rubric import TASK_IDS, TOTAL_POINTS
from autograder.reference.solution import KIT_ROOT, MODULES, REFERENCE_PACKAGE_DIR


def reference_copy(folder):
    shutil.copytree(REFERENCE_PACKAGE_DIR, folder / "micrograd",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def starter_copy(folder):
    (folder / "micrograd").mkdir(parents=True)
    for module in ("__init__", *MODULES):
        (folder / "micrograd" / f"{module}.py").write_text(starter(module))
    return folder


def grade_cli(capsys, *args):
    """Exit code, stdout and stderr after the first line, which names the course in use."""
    code = main(["grade", *map(str, args)])
    out, err = capsys.readouterr()
    course, _, err = err.partition("\n")
    assert course == f"mgkit grade: course micrograd_lab ({KIT_ROOT / 'course.toml'})"
    return code, out, err


@pytest.mark.parametrize("make, expected", [(reference_copy, TOTAL_POINTS), (starter_copy, 0),
                                            (None, 0)],
                         ids=["reference", "untouched starter", "empty folder"])
def test_grade_writes_every_task_and_exits_0(tmp_path, capsys, make, expected):
    submission = tmp_path / "submission"
    make(submission) if make else submission.mkdir()
    code, out, err = grade_cli(capsys, submission, "--out", tmp_path / "results.json", "--seed", 3)
    data = json.loads((tmp_path / "results.json").read_text())
    assert code == 0 and err == ""
    assert data["score"] == expected and [test["tags"]
                                          for test in data["tests"]] == [[t] for t in TASK_IDS]
    assert f"{expected}/{TOTAL_POINTS}" in out and "--seed 3" in out


def test_the_kits_own_notebook_gets_full_marks(tmp_path, capsys):
    import nbformat

    from autograder.release.notebooks import build_notebook

    nbformat.write(
        build_notebook(KIT_ROOT / "assignments" / "micrograd_lab.md", REFERENCE_PACKAGE_DIR),
        tmp_path / "lab.ipynb")
    code, out, _ = grade_cli(capsys, tmp_path / "lab.ipynb", "--seed", 2)
    assert code == 0 and f"{TOTAL_POINTS}/{TOTAL_POINTS}" in out


@pytest.mark.parametrize("name", ["nowhere", "essay.txt"])
def test_grade_cannot_grade_what_is_not_a_submission(tmp_path, capsys, name):
    (tmp_path / "essay.txt").write_text("hello")
    code, out, err = grade_cli(capsys, tmp_path / name, "--out", tmp_path / "results.json")
    assert code != 0 and out == "" and len(err.strip().splitlines()) == 1 and str(
        tmp_path / name) in err
    assert not (tmp_path / "results.json").exists()


def test_the_installed_command_says_why_in_one_line(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "autograder.cli", "grade",
         str(tmp_path / "nowhere")], capture_output=True, text=True)
    assert done.returncode == 1 and done.stdout == ""
    course, error = done.stderr.splitlines()  # the course in use, then why
    assert course.startswith("mgkit grade: course micrograd_lab (") and "does not exist" in error


def test_grade_replaces_only_its_own_results(tmp_path, capsys):
    submission = reference_copy(tmp_path / "submission")
    out = tmp_path / "results.json"
    out.write_text("the instructor's notes")
    code, _, err = grade_cli(capsys, submission, "--out", out)
    assert code == 1 and "--force" in err and out.read_text() == "the instructor's notes"
    assert grade_cli(capsys, submission, "--out", out, "--force")[0] == 0
    # mgkit's own: replaced without asking
    assert grade_cli(capsys, submission, "--out", out)[0] == 0


def test_a_grader_failure_still_writes_a_zero_result_and_exits_non_zero(
        tmp_path, capsys, monkeypatch):
    def broken_judge(task_id, seed, outcome, earlier):
        raise RuntimeError("a bug in the checks")

    monkeypatch.setattr(autograder.grading.judge, "judge_task", broken_judge)
    code, _, err = grade_cli(capsys, reference_copy(tmp_path / "submission"), "--out",
                             tmp_path / "results.json")
    data = json.loads((tmp_path / "results.json").read_text())
    assert code == 2 and len(err.strip().splitlines()) == 1 and "not graded" in err
    assert data["score"] == 0 and len(
        data["tests"]) == len(TASK_IDS) and not data["extra_data"]["graded"]


def test_grade_all_grades_a_class(tmp_path, capsys):
    submissions = tmp_path / "submissions"
    reference_copy(submissions / "ada")
    (submissions / "ben").mkdir()
    code = main(["grade-all", str(submissions), "--out", str(tmp_path / "out"), "--workers", "2"])
    out, _ = capsys.readouterr()
    assert code == 0 and out.startswith(
        "2 students: 2 folders; 1 cannot be graded") and "1 students graded" in out
    rows = (tmp_path / "out" / "gradebook.csv").read_text(encoding="utf-8-sig").splitlines()
    assert rows[1].startswith(f"ada,{TOTAL_POINTS},") and rows[2].startswith("ben,,")
    assert rows[2].endswith(",empty,empty,")  # state, then status


def test_demo_grades_the_reference_the_starter_and_a_bug(capsys):
    assert main(["demo", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert out.count("total") == 3
    assert (
        f"the reference solution: {TOTAL_POINTS} / {TOTAL_POINTS}" in out
        and "the untouched starter: 0 /" in out
    )
    buggy = out.split("a bug")[1]
    assert "grad_accumulation     0/12  failed" in buggy and buggy.count(
        "  passed\n") == len(TASK_IDS) - 1


def test_out_that_is_the_wrong_kind_stops_before_grading(tmp_path, capsys):
    submission = reference_copy(tmp_path / "submission")
    code, out, err = grade_cli(capsys, submission, "--out", tmp_path, "--force")
    assert code == 1 and out == "" and "is a folder" in err and len(err.strip().splitlines()) == 1
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    assert main(["grade-all", str(tmp_path), "--out", str(a_file)]) == 1
    assert "is a file" in capsys.readouterr().err and a_file.read_text() == "mine"
