"""How fast mgkit grades, next to `nbgrader autograde` on the same notebooks, measured in one run.

    python benchmarks/bench_grading.py                  # a few minutes
    python benchmarks/bench_grading.py --nbgrader 200   # nbgrader on the whole class: ~10 min

(a) one submission: `mgkit grade` as a student or Gradescope runs it, a new process each time
    (interpreter, imports, the zygote, ten tasks, judging, results.json); the median of several
    runs;
(b) one submission inside a batch: `grade()` with a sandbox that is already running;
(c) a class of 200 submission folders with `mgkit grade-all` (one grading process per core);
(d) the same class as 200 notebooks of the notebook track, with `mgkit grade-all`;
(e) `nbgrader autograde` on the same notebooks, in a throwaway nbgrader course: one alone, then
    a batch (--nbgrader N of them; 10 by default, it takes seconds each);
(f) the student's `pytest` on a copy of the release holding the reference's files: every task's
    checks on the public seed (the preview), the median of several runs;
(g) an nbgrader course of --course N notebooks (20 by default; the kit's nbgrader_config.py, the
    released notebook solved by a third of the class, with two bugs by a third, untouched by the
    rest), graded twice from the same state: by `nbgrader autograde`, and by `mgkit grade-all
    COURSE`, which also records every grade cell's points in the course's gradebook.db; both
    exports must agree. Side by side, with the ratio.

Every submission is the reference solution, which the targets are about: every check runs to
its end (a starter fails fast). Wall-clock times: the machine may be shared, so its load is
printed first. Targets on 2 cores: (a) at most 1 s, (c) at least 7 submissions per second,
(f) at most 1 s, (g) grade-all at least 10x faster than autograde.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from autograder.grading.loop import grade
from autograder.grading.worker import TaskSandbox as Sandbox
from autograder.reference.rubric import TOTAL_POINTS
from autograder.reference.solution import KIT_ROOT, REFERENCE_PACKAGE_DIR
from autograder.release.notebooks import StoryError, build_notebook

STORY = KIT_ROOT / "assignments" / "micrograd_lab.md"
ASSIGNMENT = "micrograd_lab"
MGKIT = [sys.executable, "-m", "autograder.cli"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7,
                        help="runs of (a) and (b) to take the median of")
    parser.add_argument("--class-size", type=int, default=200, help="submissions in (c) and (d)")
    parser.add_argument("--nbgrader", type=int, default=10,
                        help="notebooks nbgrader grades in one batch in (e)")
    parser.add_argument("--course", type=int, default=20,
                        help="notebooks of the nbgrader course in (g); 0 skips it")
    parser.add_argument("--only-course", action="store_true", help="measure (g) alone")
    args = parser.parse_args()
    if args.only_course:
        with tempfile.TemporaryDirectory(prefix="mgkit-bench-") as temporary:
            _print(_course_side_by_side(Path(temporary), args.course))
        return
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at the start")
    with tempfile.TemporaryDirectory(prefix="mgkit-bench-") as temporary:
        root = Path(temporary)
        rows = [
            ("(a) mgkit grade, one submission, new process", *_one_submission(root, args.runs)),
            ("(b) grade() in a batch, per submission", *_warm_grade(root, args.runs)),
        ]
        try:
            notebook = build_notebook(STORY, REFERENCE_PACKAGE_DIR)
        # the story and the reference are out of step: no notebooks to grade
        except StoryError as error:
            print(f"(d) and (e) skipped: {error}")
            notebook = None
        rows += _classes(root, notebook, args.class_size)
        if notebook:
            rows += _nbgrader(root, notebook, args.nbgrader)
        rows.append(("(f) the student's pytest, every task", *_student_pytest(root, args.runs)))
        if args.course:
            rows += _course_side_by_side(root, args.course)
    _print(rows)


def _print(rows: list[tuple[str, float, int]]) -> None:
    width = max(len(row[0]) for row in rows)
    print(f"\n{'measurement':<{width}}  {'seconds':>9}  {'per second':>10}")
    for label, seconds, count in rows:
        print(f"{label:<{width}}  {seconds:>9.2f}  {count / seconds:>10.2f}")


def _course_side_by_side(root: Path, size: int) -> list[tuple[str, float, int]]:
    """(g): one course handed in, copied twice; autograde grades one copy, grade-all the other."""
    import csv
    import json

    sys.path.insert(0, str(KIT_ROOT / "tests"))
    # the course of the kit's own test
    from test_nbgrader_course import BUGS, edited, hand_in, nbgrader, solved

    course = root / "course" / "course"
    shutil.copyfile(KIT_ROOT / "nbgrader_config.py", _mkdir(course) / "nbgrader_config.py")
    source = course / "assignments" / ASSIGNMENT
    shutil.copytree(KIT_ROOT / "assignments" / ASSIGNMENT, source,
                    ignore=shutil.ignore_patterns("__pycache__"))
    nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
    released = json.loads((course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text())
    correct = solved(released, json.loads((source / f"{ASSIGNMENT}.ipynb").read_text()))
    for student in range(size):
        hand_in(course, f"s{student:03}", [correct,
                                           edited(correct, BUGS.values()), released][student % 3])
    copies = {name: root / name / "course" for name in ("nbgrader", "mgkit")}
    for copy in copies.values():
        shutil.copytree(course, copy)
    quiet = {"stderr": subprocess.DEVNULL, "env": {**os.environ, "MGKIT_SEED": "4242"}}
    seconds = {
        "nbgrader":
        _timed(["nbgrader", "autograde", ASSIGNMENT], cwd=copies["nbgrader"], **quiet),
        "mgkit":
        _timed([
            *MGKIT, "grade-all",
            str(copies["mgkit"]), "--out",
            str(root / "graded"), "--seed", "4242"
        ], **quiet)
    }
    exports = {}
    for name, copy in copies.items():
        subprocess.run(["nbgrader", "export"], cwd=copy, check=True, capture_output=True)
        exports[name] = sorted(csv.DictReader((copy / "grades.csv").open()),
                               key=lambda row: row["student_id"])
    same = "the same" if exports["nbgrader"] == exports["mgkit"] else "DIFFERENT"
    for theirs, ours in zip(*exports.values()):
        if theirs != ours:
            print(f"(g) differs: {theirs} (nbgrader) and {ours} (mgkit)")
    ratio = seconds["nbgrader"] / seconds["mgkit"]
    print(
        f"(g) {size} notebooks: nbgrader autograde {seconds['nbgrader']:.1f} s, mgkit grade-all"
        f" {seconds['mgkit']:.1f} s, {ratio:.1f}x faster (target 10x:"
        f" {'met' if ratio >= 10 else 'NOT met'}); the two exports are {same}"
    )
    return [(f"(g) nbgrader autograde, course of {size}", seconds["nbgrader"], size),
            (f"(g) mgkit grade-all on the course, {size}, recorded", seconds["mgkit"], size)]


def _mkdir(folder: Path) -> Path:
    folder.mkdir(parents=True)
    return folder


def _reference_folder(folder: Path) -> Path:
    shutil.copytree(REFERENCE_PACKAGE_DIR, folder / "micrograd",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def _timed(command: list[str], **kwargs) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, **kwargs)
    return time.perf_counter() - started


def _one_submission(root: Path, runs: int) -> tuple[float, int]:
    submission = _reference_folder(root / "one")
    times = [_timed([*MGKIT, "grade", str(submission), "--out", str(root / "one.json"), "--force"])
             for _ in range(runs)]
    print(f"(a) {', '.join(f'{t:.2f}' for t in times)} s")
    return statistics.median(times), 1


def _warm_grade(root: Path, runs: int) -> tuple[float, int]:
    submission = root / "one"
    with Sandbox() as sandbox:
        grade(submission, seed=0, sandbox=sandbox)  # starts the zygote
        times = []
        for seed in range(runs):
            started = time.perf_counter()
            grade(submission, seed=seed, sandbox=sandbox)
            times.append(time.perf_counter() - started)
    print(f"(b) {', '.join(f'{t:.2f}' for t in times)} s")
    return statistics.median(times), 1


def _classes(root: Path, notebook, size: int) -> list[tuple[str, float, int]]:
    folders, notebooks = root / "class-folders", root / "class-notebooks"
    notebooks.mkdir()
    for student in range(size):
        _reference_folder(folders / f"student{student:03}")
        if notebook:
            nbformat.write(notebook, notebooks / f"student{student:03}.ipynb")
    rows = []
    classes = [("(c) mgkit grade-all, folders", folders),
               ("(d) mgkit grade-all, notebooks", notebooks)]
    for label, submissions in classes[: 2 if notebook else 1]:
        out = root / f"{submissions.name}-out"
        seconds = _timed(
            [*MGKIT, "grade-all", str(submissions), "--out",
             str(out)], stderr=subprocess.DEVNULL)
        rows.append((f"{label}, class of {size}", seconds, size))
        full = sum(
            row.split(",")[1] == str(TOTAL_POINTS)
            for row in (out / "gradebook.csv").read_text().splitlines())
        print(f"{label}: {full} of {size} with full marks")
    return rows


def _student_pytest(root: Path, runs: int) -> tuple[float, int]:
    student = root / "student"
    shutil.copytree(KIT_ROOT / "release", student,
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for path in REFERENCE_PACKAGE_DIR.glob("*.py"):
        shutil.copyfile(path, student / "micrograd" / path.name)
    # as in a student's venv: only the release's own plugin (the kit's env also has hypothesis, 1.3
    # s to import)
    command = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "pytest_timeout"
    ]
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    times = [_timed(command, cwd=student, env=env) for _ in range(runs)]
    print(f"(f) {', '.join(f'{t:.2f}' for t in times)} s")
    return statistics.median(times), 1


def _nbgrader(root: Path, notebook, batch: int) -> list[tuple[str, float, int]]:
    """nbgrader's own course layout: source/, generate_assignment, submitted/<student>/,
    autograde."""
    course = root / "nbgrader-course"
    source = course / "source" / ASSIGNMENT
    source.mkdir(parents=True)
    nbformat.write(notebook, source / f"{ASSIGNMENT}.ipynb")
    (course / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.root = {str(course)!r}\n"
        f"c.CourseDirectory.db_url = 'sqlite:///{course}/gradebook.db'\n")
    quiet = {"cwd": course, "stderr": subprocess.DEVNULL}
    subprocess.run(["nbgrader", "generate_assignment", ASSIGNMENT, "--create"], check=True,
                   stdout=subprocess.DEVNULL, **quiet)
    rows = []
    for label, students in (("(e) nbgrader autograde, one submission", ["alone"]),
                            (f"(e) nbgrader autograde, batch of {batch}",
                             [f"s{k:03}" for k in range(batch)])):
        for student in students:
            shutil.copytree(source, course / "submitted" / student / ASSIGNMENT)
        seconds = _timed(["nbgrader", "autograde", ASSIGNMENT, "--create"], **quiet)
        rows.append((label, seconds, len(students)))
        for done in ("submitted", "autograded"):
            shutil.rmtree(course / done)
    return rows


if __name__ == "__main__":
    main()
