"""The real nbgrader on a temporary course: autograde scores with the hidden checks, as `mgkit
grade` does.

Three students hand in the notebook: one correct (whose backward() also writes to stderr), one
with two bugs (who also tries to pass every check: a mgkit_checks package of their own beside the
notebook, and a cell that replaces `check` in the kernel), one untouched. The course then runs
nbgrader's own commands, generate_assignment, autograde, generate_feedback and export, and every
task's points must be those of `mgkit grade` on the same notebook and seed.
"""

from __future__ import annotations

import csv
import html
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.cli import main
from autograder.grading.submission import starter
from autograder.reference.rubric import BY_ID, TASK_IDS, TOTAL_POINTS
from autograder.reference.solution import COURSE_ROOT, KIT_ROOT, REFERENCE_PACKAGE_DIR
from autograder.release.build import ASSIGNMENT, NBGRADER_CONFIG, RELEASE, SOURCE

# A real nbgrader course: generate_assignment, autograde, feedback and export, each a process.
pytestmark = pytest.mark.slow

SEED = "4242"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"
BUGS = {  # the partly wrong student's edits: (cell id, the line as given, the line as written)
    "grad_accumulation": (
        "engine_Value",
        "other.grad += self.data * out.grad",
        "other.grad = self.data * out.grad",
    ),
    "zero_grad": ("nn_Module", "p.grad = 0.0", "pass"),
}
NOISE = (
    "def backward(self) -> None:\n",  # the correct student's backward() talks on stderr
    "def backward(self) -> None:\n        print('backward: hello', file=__import__('sys').stderr)\n"
)
EVERYTHING_PASSES = "def check(task_id, namespace):\n    return None\n"
IN_THE_KERNEL = (
    "import mgkit_checks.notebook\nmgkit_checks.notebook.check = lambda task_id, namespace: None\n"
)


def lost(task_id: str) -> str:
    """How the feedback gives a task the wrong student failed: none of its points (0/12 for
    grad_accumulation)."""
    return f"{task_id}: 0/{BY_ID[task_id].points} points"


MUL = BY_ID["mul_backward"].points  # the closure the wrong student edited still passes its own task
PASSED_MUL = f"mul_backward: passed the hidden checks, {MUL}/{MUL} points"


def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args, "--log-level=WARN"], cwd=course,
                          capture_output=True, text=True, env={**os.environ, "MGKIT_SEED": SEED})
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def solved(release: dict, source: dict) -> dict:
    """The released notebook with every solution cell as the source notebook has it."""
    answers = {cell["id"]: cell["source"] for cell in source["cells"]}
    notebook = json.loads(json.dumps(release))
    for cell in notebook["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("solution"):
            cell["source"] = answers[cell["id"]]
    return notebook


def edited(notebook: dict, edits) -> dict:
    notebook = json.loads(json.dumps(notebook))
    cells = {cell["id"]: cell for cell in notebook["cells"]}
    for cell_id, old, new in edits:
        text = "".join(cells[cell_id]["source"])
        assert text.count(old) == 1, (cell_id, old)
        cells[cell_id]["source"] = text.replace(old, new)
    return notebook


def hand_in(course: Path, student: str, notebook: dict) -> Path:
    folder = course / "submitted" / student / ASSIGNMENT
    shutil.copytree(course / "release" / ASSIGNMENT, folder)
    (folder / NOTEBOOK).write_text(json.dumps(notebook))
    return folder


DUE = "2025-03-01 23:59:00 UTC"
# wrong: late
HANDED_IN = {"correct": "2025-03-01 20:00:00.000000 UTC", "wrong": "2025-03-02 10:00:00.000000 UTC"}
# nbgrader's own: a late notebook scores 0
LATE_POLICY = "c.LateSubmissionPlugin.penalty_method = 'zero'\n"


@pytest.fixture(scope="module")
def handed_in(tmp_path_factory) -> Path:
    """A course with the kit's nbgrader config, a due date and the three hand-ins (two timed), not
    graded yet."""
    course = tmp_path_factory.mktemp("course")
    # the course's own
    shutil.copyfile(COURSE_ROOT / NBGRADER_CONFIG, course / "nbgrader_config.py")
    with (course / "nbgrader_config.py").open("a") as config:
        config.write(LATE_POLICY)
    source = course / "assignments" / ASSIGNMENT
    shutil.copytree(COURSE_ROOT / SOURCE, source, ignore=shutil.ignore_patterns("__pycache__"))
    (source / "micrograd").mkdir()  # a course that also hands out the package's starter
    (source / "micrograd" / "engine.py").write_text(starter("engine"))
    nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")

    released = json.loads((course / "release" / ASSIGNMENT / NOTEBOOK).read_text())
    correct = solved(released, json.loads((source / NOTEBOOK).read_text()))
    hand_in(course, "correct", edited(correct, [("engine_Value", *NOISE)]))
    (course / "submitted" / "correct" / ASSIGNMENT / "micrograd" /
     "engine.py").write_text("# my own engine\n")
    exploring = next(cell for cell in correct["cells"]
                     if cell["cell_type"] == "code" and not cell["metadata"]
                     # the lecture's first cell of its own
                     and "import math\n" in "".join(cell["source"]))
    cheat = (exploring["id"], "import math\n", "import math\n" + IN_THE_KERNEL)
    wrong = hand_in(course, "wrong", edited(correct, [*BUGS.values(), cheat]))
    # shadows the installed checks in the kernel: the grade is made outside it
    (wrong / "mgkit_checks").mkdir()
    (wrong / "mgkit_checks" / "__init__.py").write_text("")
    (wrong / "mgkit_checks" / "notebook.py").write_text(EVERYTHING_PASSES)
    hand_in(course, "untouched", released)
    for student, moment in HANDED_IN.items():
        (course / "submitted" / student / ASSIGNMENT / "timestamp.txt").write_text(moment + "\n")
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        gradebook.update_or_create_assignment(ASSIGNMENT, duedate=DUE)
    return course


@pytest.fixture(scope="module")
def course(handed_in, tmp_path_factory) -> Path:
    """The course graded by `nbgrader autograde`, with feedback and an export."""
    course = tmp_path_factory.mktemp("autograded") / "course"
    shutil.copytree(handed_in, course)
    nbgrader(course, "autograde", ASSIGNMENT)
    nbgrader(course, "generate_feedback", ASSIGNMENT)
    nbgrader(course, "export")
    return course


def autograde_points(course: Path, student: str) -> dict[str, float]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        notebook = gradebook.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, student)
        return {grade.name: grade.score for grade in notebook.grades}


def mgkit_grade(course: Path, student: str, tmp_path: Path) -> dict:
    out = tmp_path / f"{student}.json"
    assert main([
        "grade",
        str(course / "submitted" / student / ASSIGNMENT / NOTEBOOK), "--seed", SEED, "--out",
        str(out)
    ]) == 0
    return json.loads(out.read_text())


@pytest.mark.parametrize("student, total", [("correct", TOTAL_POINTS),
                                            ("wrong", TOTAL_POINTS - sum(BY_ID[task].points
                                                                         for task in BUGS)),
                                            ("untouched", 0)])
def test_autograde_gives_each_task_the_points_of_mgkit_grade(course, tmp_path, student, total):
    results = mgkit_grade(course, student, tmp_path)
    assert autograde_points(course, student) == {
        test["tags"][0]: test["score"]
        for test in results["tests"]
    }
    assert results["score"] == total


def test_the_export_is_the_gradebook(course, tmp_path):
    rows = {row["student_id"]: row for row in csv.DictReader((course / "grades.csv").open())}
    assert {student: float(row["raw_score"]) for student, row in rows.items()} == {
        student: mgkit_grade(course, student, tmp_path)["score"]
        for student in ("correct", "untouched", "wrong")
    }
    assert {float(row["max_score"]) for row in rows.values()} == {TOTAL_POINTS}


def test_a_students_py_file_stays(course):
    graded = course / "autograded"
    assert (graded / "correct" / ASSIGNMENT / "micrograd" /
            "engine.py").read_text() == "# my own engine\n"


def feedback_text(course: Path, student: str) -> str:
    """What a student reads in the feedback page: its text without markup."""
    page = (course / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def lines(*paths: Path) -> set[str]:
    """The files' lines long enough to be their own ("Value.backward(self)" is also a traceback's
    frame)."""
    return {
        line.strip()
        for path in paths
        for line in path.read_text().splitlines() if len(line.strip()) > 20
    }


def test_feedback_teaches_and_never_shows_a_hidden_check(course):
    # the students' own
    public = lines(*REFERENCE_PACKAGE_DIR.glob("*.py"), *(KIT_ROOT / "mgkit_checks").glob("*.py"))
    secret = lines(*(KIT_ROOT / "autograder" / "sandboxed").glob("*.py")) - public
    assert len(secret) > 50
    for student in ("correct", "wrong", "untouched"):
        text = feedback_text(course, student)
        assert not [line for line in secret if line in text], student
        assert "HIDDEN TESTS" not in text
    wrong = feedback_text(course, "wrong")
    assert all(lost(task_id) in wrong for task_id in BUGS)
    assert SEED not in wrong  # the seed is the instructor's
    assert PASSED_MUL in wrong


def test_a_warning_on_stderr_does_not_zero_a_correct_answer(course):
    notebook = json.loads((course / "autograded" / "correct" / ASSIGNMENT / NOTEBOOK).read_text())
    streams = [output.get("name") for cell in notebook["cells"] if cell["cell_type"] == "code"
               for output in cell.get("outputs", [])]
    # the student's backward() did write to stderr, in the cells that ran it
    assert "stderr" in streams
    assert set(autograde_points(course, "correct").values()) == {BY_ID[t].points for t in TASK_IDS}


# ---- the same course graded by `mgkit grade-all COURSE` -------------------------------------

@pytest.fixture(scope="module")
def kit_course(handed_in, tmp_path_factory) -> Path:
    """The course graded by `mgkit grade-all` on the course folder, then exported by nbgrader."""
    course = tmp_path_factory.mktemp("kit") / "course"
    shutil.copytree(handed_in, course)
    assert main(["grade-all",
                 str(course), "--out",
                 str(course.parent / "graded"), "--seed", SEED]) == 0
    nbgrader(course, "export")
    return course


def gradebook_rows(course: Path) -> dict[str, dict]:
    """What formgrader shows of each student: the submission's time, the notebook's score and late
    penalty, every grade cell's Grade and every answer's Comment."""
    from nbgrader.api import Gradebook

    rows = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for submission in gradebook.assignment_submissions(ASSIGNMENT):
            [notebook] = submission.notebooks
            rows[submission.student.id] = {
                "timestamp": submission.timestamp,
                "score": notebook.score,
                "late": notebook.late_submission_penalty,
                "grades": {
                    g.name: (g.auto_score, g.manual_score, g.needs_manual_grade, g.max_score)
                    for g in notebook.grades
                },
                "comments": {
                    c.name: (c.auto_comment, c.manual_comment)
                    for c in notebook.comments
                }
            }
    return rows


def export(course: Path) -> dict[str, dict[str, str]]:
    return {row["student_id"]: row for row in csv.DictReader((course / "grades.csv").open())}


def test_grade_all_on_the_course_exports_what_autograde_exports(course, kit_course):
    # every column: times, raw scores, late penalties, scores
    assert export(kit_course) == export(course)
    # nbgrader's late policy did apply
    assert export(kit_course)["wrong"]["late_submission_penalty"] != "0.0"
    assert gradebook_rows(kit_course) == gradebook_rows(course)


def test_each_grade_cell_holds_its_tasks_points_from_grade_all(kit_course):
    for student, row in gradebook_rows(kit_course).items():
        results = json.loads((kit_course.parent / "graded" / student / "results.json").read_text())
        assert {task: grade[0] for task, grade in row["grades"].items()} == \
            {test["tags"][0]: test["score"] for test in results["tests"]}


def test_feedback_comes_from_the_kits_autograded_notebooks(kit_course):
    nbgrader(kit_course, "generate_feedback", ASSIGNMENT)
    wrong = feedback_text(kit_course, "wrong")
    assert lost("grad_accumulation") in wrong and PASSED_MUL in wrong
    # exclude_overwriting kept the student's file, as autograde does
    kept = kit_course / "autograded" / "correct" / ASSIGNMENT / "micrograd" / "engine.py"
    assert kept.read_text() == "# my own engine\n"


def test_a_rerun_keeps_what_a_grader_wrote(kit_course, tmp_path):
    from nbgrader.api import Gradebook

    course = tmp_path / "course"
    shutil.copytree(kit_course, course)
    shutil.copytree(kit_course.parent / "graded", tmp_path / "graded")
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        gradebook.find_grade("zero_grad", ASSIGNMENT, ASSIGNMENT, "wrong").manual_score = 5.0
        gradebook.find_comment("nn_Module", ASSIGNMENT, ASSIGNMENT,
                               "wrong").manual_comment = "see me"
        gradebook.db.commit()
    before = gradebook_rows(course)
    # every grade kept, recorded again
    assert main(["grade-all", str(course), "--out", str(tmp_path / "graded")]) == 0
    after = gradebook_rows(course)
    # the grader's 5 stands, marked for review
    assert after["wrong"]["grades"]["zero_grad"] == (0.0, 5.0, True,
                                                     float(BY_ID["zero_grad"].points))
    assert after["wrong"]["comments"]["nn_Module"] == (None, "see me")
    assert {student: row for student, row in after.items() if student != "wrong"} == \
        {student: row for student, row in before.items() if student != "wrong"}


def test_a_gradebook_without_the_assignment_says_what_to_run(tmp_path, capsys):
    from nbgrader.api import Gradebook

    course = tmp_path / "course"
    hand_in_folder = course / "submitted" / "ada" / ASSIGNMENT
    hand_in_folder.mkdir(parents=True)
    shutil.copyfile(COURSE_ROOT / RELEASE / ASSIGNMENT / NOTEBOOK, hand_in_folder / NOTEBOOK)
    Gradebook(f"sqlite:///{course / 'gradebook.db'}").close()  # a gradebook, empty
    assert main(["grade-all", str(course), "--out", str(tmp_path / "graded")]) == 1
    # after the line that names the course
    error = capsys.readouterr().err.strip().split("\n", 1)[1]
    assert error.count(
        "\n") == 0 and f"run `nbgrader generate_assignment {ASSIGNMENT}` in {course}" in error
    assert not (tmp_path / "graded" / "ada").exists()  # nothing was graded


def test_shards_of_a_course_record_nothing_and_their_merge_records_every_grade_once(
        handed_in, kit_course, tmp_path):
    course = tmp_path / "course"
    shutil.copytree(handed_in, course)
    # two shards, one after the other (on a cluster, at once: one SQLite file, one writer)
    for index in range(2):
        assert main(["grade-all", str(course), "--out", str(tmp_path / "parts" / f"shard-{index}"),
                     "--shard", f"{index}/2", "--seed", SEED]) == 0
    assert gradebook_rows(course) == {}  # no shard wrote gradebook.db
    assert main([
        "grade-all",
        str(tmp_path / "parts"), "--merge", "--out",
        str(tmp_path / "graded")
    ]) == 0
    # the merge recorded what one run records
    assert gradebook_rows(course) == gradebook_rows(kit_course)
