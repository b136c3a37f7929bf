"""A second course, made in a temporary folder: sigmoid and log added, exp dropped, points changed.

Each op added is one method with its region in the reference and one [[task]] entry; exp is
dropped by deleting its region and its entry. `mgkit --course DIR release` must regenerate
everything from that alone; the whole chain (release, the student's pytest, the grade, the
notebook, the platforms) then follows the course, and a wrong sigmoid closure loses exactly
sigmoid_backward, in the preview and in the grade alike. A course whose reference no longer earns
every point is refused, by task.

The course is a value: these tests run both courses in this one process (`mgkit --course DIR`
in-process, or `using(course)`), and only the student's own pytest in a process of its own. The
kit's course-dependent properties (every task defined once, judged after what it leans on, the
reference earning every point, a class's gradebook) are held here on the second course too.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from second_course import KIT_ROOT, WRONG_SIGMOID, make_course

import autograder
from autograder.cli import main
from autograder.reference import rubric, solution
from autograder.release.build import generated
from mgkit_checks import tasks as definitions
from mgkit_checks.course import Course, CourseError, in_use, load, using
from mgkit_checks.preview import Preview


def mgkit(capsys, *args: str | Path) -> tuple[int, str, str]:
    """`mgkit ARGS` in this process: its exit code, stdout and stderr."""
    code = main([str(arg) for arg in args])
    out, err = capsys.readouterr()
    return code, out, err


def student_pytest(folder: Path) -> subprocess.CompletedProcess:
    """The student's pytest, with the plugins of their environment only (pytest-timeout, which the
    release installs)."""
    env = {
        key: value
        for key, value in os.environ.items() if key not in ("PYTHONPATH", "MGKIT_COURSE")
    }
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "pytest_timeout"],
        cwd=folder, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """The second course, released over what the kit's course released (as after a course change),
    beside a file no release makes."""
    folder = make_course(tmp_path_factory.mktemp("second-course"))
    for name in generated():  # the kit's course is the one in use here
        shutil.copytree(KIT_ROOT / name, folder / name,
                        ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "release" / "notes.txt").write_text("not generated\n")
    assert main(["--course", str(folder), "release"]) == 0
    # the command's course was its own, and only its
    assert in_use().path == KIT_ROOT / "course.toml"
    return folder


@pytest.fixture(scope="module")
def tasks(course: Path) -> dict[str, int]:
    """The second course's tasks and points, as its course.toml says."""
    return {
        task["id"]: task["points"]
        for task in tomllib.loads((course / "course.toml").read_text())["task"]
    }


def handed_in(course: Path, to: Path, edit: tuple[str, str] | None = None) -> Path:
    """The course's reference as a student's hand-in, with one edit."""
    shutil.copytree(course / "solutions/micrograd", to / "micrograd",
                    ignore=shutil.ignore_patterns("__pycache__"))
    if edit:
        engine = to / "micrograd/engine.py"
        assert edit[0] in engine.read_text()
        engine.write_text(engine.read_text().replace(*edit))
    return to


def table(output: str, tasks: dict[str, int]) -> dict[str, str]:
    rows = (line.split() for line in output.splitlines())
    return {words[0]: words[1] for words in rows if words and words[0] in tasks}


def test_the_release_follows_the_course(course: Path, tasks: dict[str, int]) -> None:
    assert "exp_backward" not in tasks and {"sigmoid_backward", "log_backward"} <= set(tasks)
    assert not (course / "release" / "notes.txt").exists()  # the old release went whole
    # and nothing of the build is left beside it
    assert sorted(path.name for path in course.iterdir()) == [
        "assignments", "course.toml", "nbgrader_config.py", "release", "solutions"]
    readme = (course / "release/README.md").read_text()
    for task_id, points in tasks.items():
        assert f"| `{task_id}` | {points} |" in readme
    assert "`exp_backward`" not in readme and f"({sum(tasks.values())} points in all)" in readme
    engine = (course / "release/micrograd/engine.py").read_text()
    assert 'raise NotImplementedError("sigmoid_backward: add the derivative of sigmoid' in engine
    assert "self.grad += out.data * out.grad" in engine  # exp's closure is given now
    markers = tomllib.loads(
        (course / "release/pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert [marker.partition(":")[0] for marker in markers["markers"]] == list(tasks)


def test_preview_and_grade_agree_a_wrong_sigmoid_loses_exactly_sigmoid_backward(
        course, tasks, tmp_path, capsys) -> None:
    total = sum(tasks.values())
    for edit, lost in ((None, set()), (WRONG_SIGMOID, {"sigmoid_backward"})):
        folder = tmp_path / ("wrong" if edit else "right")
        student = shutil.copytree(course / "release", folder,
                                  ignore=shutil.ignore_patterns("micrograd"))
        handed_in(course, student, edit)
        preview = student_pytest(student)
        assert set(table(preview.stdout, tasks)) == set(tasks), preview.stdout + preview.stderr
        assert {
            task
            for task, result in table(preview.stdout, tasks).items() if result != "passed"
        } == lost
        earned = total - sum(tasks[task] for task in lost)
        assert f"public checks {earned}/{total};" in preview.stdout
        if edit:
            assert "sigmoid_backward: Failed" in preview.stdout
            assert "a central finite difference gives" in preview.stdout

        code, out, err = mgkit(capsys, "--course", course, "grade", folder, "--seed", 11,
                               "--out", tmp_path / f"{folder.name}.json")
        assert code == 0, out + err
        results = json.loads((tmp_path / f"{folder.name}.json").read_text())
        scores = {test["tags"][0]: (test["score"], test["max_score"]) for test in results["tests"]}
        assert {task: int(most) for task, (_, most) in scores.items()} == tasks
        assert {task for task, (score, most) in scores.items() if score < most} == lost
        assert results["score"] == earned


def test_the_notebook_checks_every_task_of_the_course(course: Path, tasks: dict[str, int]) -> None:
    notebook = json.loads((course / "release/micrograd_lab/micrograd_lab.ipynb").read_text())
    checks = {cell["metadata"]["nbgrader"]["grade_id"]: cell["metadata"]["nbgrader"]["points"]
              for cell in notebook["cells"] if cell["metadata"].get("nbgrader", {}).get("grade")}
    assert checks == tasks


def test_the_platforms_carry_the_course(course: Path, tasks: dict[str, int], tmp_path: Path,
                                        capsys) -> None:
    code, _, err = mgkit(capsys, "--course", course, "export", "gradescope", "--out",
                         tmp_path / "autograder.zip")
    assert code == 0, err
    with zipfile.ZipFile(tmp_path / "autograder.zip") as archive:
        assert archive.read("kit/course.toml").decode() == (course / "course.toml").read_text()
    workflow = (course / "release/.github/workflows/classroom.yml").read_text()
    for task_id in tasks:
        assert f"-m {task_id}" in workflow


def test_a_course_whose_reference_no_longer_earns_every_point_is_refused(
        course: Path, tmp_path: Path, capsys) -> None:
    broken = make_course(tmp_path / "broken")
    engine = broken / "solutions/micrograd/engine.py"
    engine.write_text(engine.read_text().replace("self.grad += out.grad / self.data",
                                                 "self.grad += out.grad"))
    code, _, err = mgkit(capsys, "--course", broken, "release")
    assert code == 1 and len(err.strip().splitlines()) == 2, err  # the course in use, then why
    assert ("nothing was released, the course does not grade as it says: "
            "log_backward: the reference does not earn") in err
    assert not (broken / "release").exists()


def test_a_course_folder_grades_by_its_own_course_without_being_named(course, tasks, tmp_path,
                                                                      capsys, monkeypatch) -> None:
    """`cd my-course && mgkit grade SUB`: the nearest course.toml, as pytest finds its rootdir;
    elsewhere the kit's, and the first line says which, so a forgotten --course is never silent."""
    wrong = handed_in(course, tmp_path / "wrong", WRONG_SIGMOID)
    monkeypatch.delenv("MGKIT_COURSE", raising=False)
    for inside in (course, course / "solutions" / "micrograd"):
        monkeypatch.chdir(inside)
        code, out, err = mgkit(capsys, "grade", wrong, "--seed", 5, "--out",
                               tmp_path / "wrong.json")
        assert code == 0, out + err
        assert err.splitlines(
        )[0] == f"mgkit grade: course micrograd_lab ({course / 'course.toml'})"
        results = json.loads((tmp_path / "wrong.json").read_text())
        scores = {test["tags"][0]: (test["score"], test["max_score"]) for test in results["tests"]}
        # its points, its ops
        assert {task: int(most) for task, (_, most) in scores.items()} == tasks
        assert {task
                for task, (score, most) in scores.items() if score < most} == {"sigmoid_backward"}
    monkeypatch.chdir(tmp_path)  # in no course's folder: the kit's own, said first
    code, _, err = mgkit(capsys, "grade", wrong, "--seed", 5)
    assert err.splitlines()[0] == f"mgkit grade: course micrograd_lab ({KIT_ROOT / 'course.toml'})"
    # an explicit override still wins over the folder
    monkeypatch.setenv("MGKIT_COURSE", str(course))
    code, _, err = mgkit(capsys, "grade", wrong, "--seed", 5)
    assert err.splitlines()[0] == f"mgkit grade: course micrograd_lab ({course / 'course.toml'})"


def test_a_hand_in_never_chooses_its_own_course(course, tmp_path, capsys, monkeypatch) -> None:
    """A course.toml inside the hand-in (a student's, with every point moved to what they pass) is
    refused when found from a folder inside it, for grade and grade-all; named with --course, it is
    the instructor's choice."""
    student = handed_in(course, tmp_path / "class" / "alice", WRONG_SIGMOID)
    shutil.copyfile(course / "course.toml", student / "course.toml")
    monkeypatch.delenv("MGKIT_COURSE", raising=False)
    for inside, args in ((student, ["grade", "."]), (student / "micrograd", ["grade", ".."]),
                         (student, ["grade-all", tmp_path / "class", "--out", tmp_path / "out"])):
        monkeypatch.chdir(inside)
        code, _, err = mgkit(capsys, *args)
        assert code == 1 and "a hand-in never chooses its course" in err, err
    assert not (tmp_path / "out").exists()
    monkeypatch.chdir(student)
    code, out, err = mgkit(capsys, "--course", course, "grade", ".", "--seed", 5)
    assert code == 0, out + err


def test_the_kits_rules_hold_for_the_second_course_in_this_process(course, tasks, tmp_path) -> None:
    """What test_checks, test_grading and test_gradebook hold for the kit's course, on this one."""
    with using(load(course / "course.toml")) as second:
        order = definitions.judging_order(second)
        assert sorted(order) == sorted(tasks) and rubric.TASK_IDS == tuple(tasks)
        for task_id in order:
            for seed in (0, 1):
                for case in definitions.cases_for(task_id, seed):
                    assert all(
                        order.index(needed) < order.index(task_id)
                        for needed in case.get("needs", ()))
        preview = Preview(solution.load(), seed=3)
        assert [task for task in order if not preview.verdict(task).passed] == []
        hand_ins = tmp_path / "hand-ins"
        handed_in(course, hand_ins / "ada")
        handed_in(course, hand_ins / "ben", WRONG_SIGMOID)
        results = autograder.grade_all(hand_ins, tmp_path / "out", seed=4, workers=1)
        scores = {student: grade.score for student, grade in results.grades.items()}
        assert scores == {
            "ada": sum(tasks.values()),
            "ben": sum(tasks.values()) - tasks["sigmoid_backward"]
        }
        header = (tmp_path / "out" /
                  "gradebook.csv").read_text(encoding="utf-8-sig").splitlines()[0]
        assert all(task_id in header for task_id in tasks) and "exp_backward" not in header
    # and back
    assert in_use().path == KIT_ROOT / "course.toml" and "exp_backward" in rubric.TASK_IDS


NO_COURSE_AT_IMPORT = """
import importlib, pkgutil, sys
import autograder, mgkit_checks
for package in (autograder, mgkit_checks):
    for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        importlib.import_module(module.name)
from autograder.reference import rubric
try:
    rubric.TASK_IDS
except ValueError as error:
    sys.exit(str(error))
"""


def test_no_module_reads_the_course_at_import_time(tmp_path: Path) -> None:
    env = {**os.environ, "MGKIT_COURSE": str(tmp_path / "nowhere")}
    done = subprocess.run([sys.executable, "-c", NO_COURSE_AT_IMPORT], env=env, capture_output=True,
                          text=True, timeout=120)
    nowhere = tmp_path / "nowhere"
    assert done.returncode == 1 and done.stderr.startswith(f"MGKIT_COURSE={nowhere}: no such"), \
        done.stderr


def test_a_course_is_found_as_pytest_finds_its_rootdir(course: Path, tmp_path: Path,
                                                       monkeypatch) -> None:
    monkeypatch.delenv("MGKIT_COURSE", raising=False)
    deep = course / "assignments" / "micrograd_lab"
    assert Course.find(start=deep).path == course / "course.toml"
    # no course above: the kit's
    assert Course.find(start=tmp_path).path == KIT_ROOT / "course.toml"
    assert Course.find(course / "course.toml", start=tmp_path).path == course / "course.toml"
    with pytest.raises(CourseError, match="--course .*: no such file or folder"):
        Course.find(tmp_path / "nowhere")


KIT_COURSE = (Path(__file__).resolve().parent.parent / "course.toml").read_text()
BAD_COURSES = {  # (the kit's course.toml text, its replacement, what the one-line error says)
    "unknown key": ('points = 14\n', 'points = 14\nweight = 2\n', "unknown key 'weight'"),
    "no points": ('points = 14\n', 'points = 0\n',
                  "(topo_sort): points = 0; a task is worth a whole number"),
    "a task twice": ('id = "mul_backward"', 'id = "add_backward"',
                     "task add_backward is listed twice"),
    "an op without expr": ('expr = "a.relu()"\n', '', "(relu_backward): no expr"),
    "expr on other inputs": ('expr = "a.relu()"', 'expr = "x.relu()"', "uses neither a nor b"),
    "nothing left of the domain": ('domain = [-3, 3]\navoid = [0]  # the kink',
                                   'domain = [-0.1, 0.1]\navoid = [0]  # the kink',
                                   "no inputs are left in domain"),
    "zero_grad without its loop": (KIT_COURSE[KIT_COURSE.index('[[task]]\nid = "training_loop"'):],
                                   "", "zero_grad is judged inside the training loop"),
}


@pytest.mark.parametrize("case", BAD_COURSES, ids=list(BAD_COURSES))
def test_a_malformed_course_is_refused_in_one_line_that_names_the_task(case: str,
                                                                       tmp_path: Path) -> None:
    old, new, message = BAD_COURSES[case]
    assert old in KIT_COURSE
    path = tmp_path / "course.toml"
    path.write_text(KIT_COURSE.replace(old, new, 1))
    with pytest.raises(CourseError) as error:
        load(path)
    assert message in str(error.value) and str(error.value).startswith(str(path)), error.value
    assert "\n" not in str(error.value)
