"""Regrades that say what changed: after a course change, regrade.csv (and the dashboard, and
--dry-run beforehand) list exactly the students and tasks whose scores moved."""

from __future__ import annotations

import contextlib
import csv
import io
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from autograder.classrun.regrade import GRADED_BY, REGRADE, changes
from autograder.cli import main
from autograder.reference.solution import KIT_ROOT

SEED = 271828
# the course change: points moved between two tasks
REWEIGHTED = {"add_backward": 4, "mul_backward": 12}


@dataclass(frozen=True)
class Said:
    stdout: str
    stderr: str


def mgkit(*argv: str | Path) -> Said:
    """`mgkit ARGV` in this process, as test_courses runs two courses in one (a grade-all with one
    grader: what moved, not parallel grading, is read here)."""
    workers = ["--workers", "1"] if "grade-all" in argv else []
    with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.redirect_stderr(
            io.StringIO()) as err:
        code = main([*map(str, argv), *workers])
    assert code == 0, err.getvalue()[-2000:]
    return Said(out.getvalue(), err.getvalue())


@pytest.fixture(scope="module")
def regraded(tmp_path_factory) -> tuple[Path, Path, Said, dict[Path, bytes]]:
    """A class graded on the kit's course, a dry run on the re-weighted course, then the regrade."""
    root = tmp_path_factory.mktemp("regrade")
    submissions = root / "class"
    reference = KIT_ROOT / "solutions" / "micrograd"
    # passes everything: add and mul move
    shutil.copytree(reference, submissions / "ada" / "micrograd")
    # fails mul (0 -> 0): add alone moves
    shutil.copytree(reference, submissions / "bo" / "micrograd")
    engine = submissions / "bo" / "micrograd" / "engine.py"
    engine.write_text(engine.read_text().replace("self.grad += other.data * out.grad",
                                                 "self.grad += self.data * out.grad"))
    # 0 everywhere: no move
    shutil.copytree(KIT_ROOT / "release" / "micrograd", submissions / "cy" / "micrograd")
    out = root / "graded"
    mgkit("grade-all", submissions, "--out", out, "--seed", SEED)
    course = root / "course"
    shutil.copytree(KIT_ROOT / "solutions", course / "solutions",
                    ignore=shutil.ignore_patterns("__pycache__"))
    text = (KIT_ROOT / "course.toml").read_text()
    for task, points in REWEIGHTED.items():
        assert f'id = "{task}"\npoints = 8\n' in text
        text = text.replace(f'id = "{task}"\npoints = 8\n', f'id = "{task}"\npoints = {points}\n')
    (course / "course.toml").write_text(text)
    before = {path: path.read_bytes() for path in out.rglob("*") if path.is_file()}
    dry = mgkit("--course", course, "grade-all", submissions, "--out", out, "--dry-run")
    after_dry_run = {path: path.read_bytes() for path in out.rglob("*") if path.is_file()}
    assert after_dry_run == before  # the dry run replaced nothing
    mgkit("--course", course, "grade-all", submissions, "--out", out, "--force")
    return out, course, dry, before


EXPECTED = [("ada", "add_backward", "8", "4"), ("ada", "mul_backward", "8", "12"),
            ("bo", "add_backward", "8", "4")]


def test_a_regrade_after_a_course_change_lists_exactly_the_moved_students_and_tasks(regraded):
    out, _, _, _ = regraded
    rows = list(csv.reader(io.StringIO((out / REGRADE).read_text())))
    assert rows == [["student", "task", "old", "new"], *map(list, EXPECTED)]
    assert "course" in (out / GRADED_BY).read_text()
    html = (out / "index.html").read_text()
    section = html.split('<section id="regrade">')[1].split("</section>")[0]
    assert (
        '<td>ada</td><td><code>mul_backward</code></td><td class="num">8</td><td'
        ' class="num">12</td>'
        in section
    )
    assert "<td>cy</td>" not in section and section.count("<tr>") == 1 + len(EXPECTED)


def test_the_dry_run_showed_the_same_moves_before_anything_was_replaced(regraded):
    _, _, dry, _ = regraded
    moves = [line for line in dry.stdout.splitlines() if line.startswith("would move: ")]
    assert moves == [
        f"would move: {student} {task}: {old} -> {new}" for student, task, old, new in EXPECTED
    ]
    assert dry.stdout.startswith(
        "grader: course ") and "3 scores of 2 students would move" in dry.stdout


def test_a_rerun_under_the_same_grader_writes_no_new_regrade(regraded):
    out, course, _, _ = regraded
    written = (out / REGRADE).stat().st_mtime_ns
    # resumes: nothing moved
    mgkit("--course", course, "grade-all", out.parent / "class", "--out", out)
    assert (out / REGRADE).stat().st_mtime_ns == written


scores = st.dictionaries(
    st.sampled_from(["a", "b", "c"]),
    st.dictionaries(st.sampled_from(["t1", "t2", "t3"]), st.sampled_from([0.0, 1.0, 2.5])))


@given(scores, scores)
def test_changes_are_exactly_the_tasks_whose_points_differ_for_students_graded_both_times(
        before, after):
    moved = changes(before, after)
    expected = {(student, task) for student in before.keys() & after.keys()
                for task in before[student].keys() | after[student].keys()
                if before[student].get(task) != after[student].get(task)}
    assert {(student, task)
            for student, task, _, _ in moved} == expected and len(moved) == len(expected)
    for student, task, old, new in moved:
        assert old == ("" if task not in before[student] else f"{before[student][task]:g}")
        assert new == ("" if task not in after[student] else f"{after[student][task]:g}")
