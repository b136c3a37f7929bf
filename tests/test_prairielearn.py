"""`mgkit grade --format prairielearn`: PrairieLearn's external-grading results.json, with what the
student may see and nothing of the instructor's (the seed, the flags, the diagnosis ids)."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import pytest

import autograder.grading.judge
from autograder.cli import main
from autograder.reference.rubric import BY_ID, TASK_IDS, TOTAL_POINTS
from autograder.reference.solution import KIT_ROOT, REFERENCE_PACKAGE_DIR

SEED = 97531


def buggy_copy(folder):
    """The reference with mul's gradient swapped and a line naming ctypes (a flag for the
    instructor)."""
    shutil.copytree(REFERENCE_PACKAGE_DIR, folder / "micrograd",
                    ignore=shutil.ignore_patterns("__pycache__"))
    engine = folder / "micrograd" / "engine.py"
    engine.write_text("# no ctypes here\n" + engine.read_text().replace(
        "self.grad += other.data * out.grad", "self.grad += self.data * out.grad"))
    return folder


def grade(capsys, submission, out, *more) -> tuple[int, dict, str]:
    code = main([
        "grade",
        str(submission), "--format", "prairielearn", "--out",
        str(out), "--seed",
        str(SEED), *more
    ])
    _, err = capsys.readouterr()
    return code, json.loads(out.read_text()), err


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> tuple[int, dict, Path]:
    """The buggy copy graded once for PrairieLearn, for the tests that read it: (exit code, results,
    the copy)."""
    folder = tmp_path_factory.mktemp("graded")
    with contextlib.redirect_stderr(io.StringIO()):
        code = main(["grade", str(buggy_copy(folder / "bo")), "--format", "prairielearn", "--out",
                     str(folder / "results.json"), "--seed", str(SEED)])
    return code, json.loads((folder / "results.json").read_text()), folder / "bo"


def test_a_grade_is_prairielearns_results_with_a_test_per_task(graded):
    code, data, _ = graded
    assert code == 0 and data["gradable"] is True
    lost = BY_ID["mul_backward"].points
    assert data["score"] == pytest.approx(
        (TOTAL_POINTS - lost) / TOTAL_POINTS) and 0 <= data["score"] <= 1
    assert [test["name"].split(":")[0] for test in data["tests"]] == list(TASK_IDS)
    by_task = {test["name"].split(":")[0]: test for test in data["tests"]}
    assert by_task["mul_backward"]["points"] == 0 and by_task["mul_backward"]["message"] == "failed"
    assert all(test["points"] == test["max_points"] == BY_ID[task].points
               for task, test in by_task.items() if task != "mul_backward")
    assert all({"name", "description", "points", "max_points", "message", "output"} <= set(test)
               for test in data["tests"])
    assert f"Score {TOTAL_POINTS - lost:g} / {TOTAL_POINTS:g}" in data["message"]


def test_nothing_of_the_instructors_leaks(graded, tmp_path):
    _, data, bo = graded
    gradescope = tmp_path / "gradescope.json"
    assert main(["grade", str(bo), "--out", str(gradescope), "--seed", str(SEED)]) == 0
    extra = json.loads(gradescope.read_text())["extra_data"]
    # what the instructor's results hold, and PrairieLearn's must not
    assert extra["flags"] and extra["diagnoses"]
    text = json.dumps(data)
    # the reproduce line is the instructor's
    assert f"Seed {SEED}" not in text and "--seed" not in text
    assert not any(flag in text for flag in extra["flags"])
    assert not any(diagnosis in text for ids in extra["diagnoses"].values() for diagnosis in ids)
    assert set(data) == {"grader", "gradable", "score", "message", "tests"}
    assert all(set(test) == {"name", "description", "points", "max_points", "message", "output"}
               for test in data["tests"])


def test_a_grader_failure_is_not_gradable_and_costs_no_attempt(tmp_path, capsys, monkeypatch):
    def broken_judge(task_id, seed, outcome, earlier):
        raise RuntimeError("a bug in the checks")

    monkeypatch.setattr(autograder.grading.judge, "judge_task", broken_judge)
    code, data, err = grade(capsys, buggy_copy(tmp_path / "bo"), tmp_path / "results.json")
    assert code == 2 and data["gradable"] is False and "not graded" in data["message"].lower(
    ) and data["format_errors"]


def test_it_replaces_only_its_own_results_and_the_guide_shows_the_setup(tmp_path, capsys):
    out = tmp_path / "results.json"
    out.write_text("{}")
    assert main([
        "grade",
        str(buggy_copy(tmp_path / "bo")), "--format", "prairielearn", "--out",
        str(out)
    ]) == 1
    assert "--force" in capsys.readouterr().err and out.read_text() == "{}"
    assert grade(capsys, tmp_path / "bo", out, "--force")[0] == 0
    assert grade(capsys, tmp_path / "bo", out)[0] == 0  # mgkit's own: replaced without asking
    guide = (KIT_ROOT / "docs" / "INSTRUCTORS.md").read_text()
    assert (
        '"externalGradingOptions"' in guide
        and "mgkit grade /grade/student --format prairielearn" in guide
    )
