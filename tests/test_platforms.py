"""Grading where courses run: Gradescope's zip, the GitHub Actions workflows, late work in
grade-all."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nbformat
import pytest
import yaml
from fake_entry import CORRECT_ENGINE, JUDGED, write_submission
from mutants import CLOSURES, MUTANTS, apply
from nbformat.v4 import new_code_cell, new_notebook

from autograder.classrun.gradebook import FEEDBACK, GRADEBOOK, LatePolicy, grade_all
from autograder.classrun.gradebook import read_gradebook as gradebook_rows
from autograder.cli import main
from autograder.grading.loop import grade
from autograder.grading.submission import starter
from autograder.platforms import github, gradescope
from autograder.reference.markers import find_regions
from autograder.reference.rubric import ASSIGNMENT, BY_ID, TASK_IDS, TASKS, TOTAL_POINTS
from autograder.reference.solution import COURSE_ROOT, REFERENCE_PACKAGE_DIR
from autograder.release.build import RELEASE

RELEASE_DIR = COURSE_ROOT / RELEASE  # what the course in use gives its students
RELEASE_NOTEBOOK = RELEASE_DIR / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
BUG = MUTANTS[0]  # one classic bug: it fails its tasks, every other passes
# 88 on the kit's course
BUGGY = f"{TOTAL_POINTS - sum(BY_ID[task_id].points for task_id in BUG.fails):g}"


def solution_lines() -> set[str]:
    """The stripped code lines found only inside the reference's solution regions."""
    inside, outside = set(), set()
    for path in REFERENCE_PACKAGE_DIR.glob("*.py"):
        lines = path.read_text().splitlines()
        body = {n for region in find_regions(path) for n in range(region.begin, region.end - 1)}
        for number, line in enumerate(lines):
            (inside if number in body else outside).add(line.strip())
    return {line for line in inside - outside if line and not line.startswith("#")}


# ---- Gradescope -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("export") / "autograder.zip"
    assert main(["export", "gradescope", "--out", str(out)]) == 0
    return out


def test_the_zip_holds_the_scripts_the_kit_and_no_solution(autograder_zip, tmp_path):
    with zipfile.ZipFile(autograder_zip) as archive:
        names = archive.namelist()
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
        texts = {name: archive.read(name).decode() for name in names}
    assert {
        "setup.sh", "run_autograder", "kit/autograder/sandboxed/harness.py",
        "kit/autograder/sandboxed/trusted.py", "kit/mgkit_checks/ops.py",
        "kit/solutions/micrograd/engine.py"
    } <= set(names)
    assert modes["setup.sh"] & 0o111 and modes["run_autograder"] & 0o111
    assert not any("__pycache__" in name for name in names)
    assert texts["kit/solutions/micrograd/engine.py"] == starter("engine")
    secret = solution_lines()
    for name, text in texts.items():
        # the hidden checks' trusted engine works: they grade
        if not name.startswith("kit/autograder/sandboxed/"):
            assert not secret & {line.strip() for line in text.splitlines()}, name
    # the same kit gives the same bytes: a re-export shows no change
    again = tmp_path / "again.zip"
    gradescope.export(again)
    assert again.read_bytes() == autograder_zip.read_bytes()


def test_export_replaces_only_its_own_zip(autograder_zip, tmp_path, capsys):
    other = tmp_path / "autograder.zip"
    other.write_text("someone's notes")
    assert main(["export", "gradescope", "--out", str(other)]) == 1
    assert "--force" in capsys.readouterr().err and other.read_text() == "someone's notes"
    # an earlier export: replaced
    assert main(["export", "gradescope", "--out", str(autograder_zip)]) == 0
    assert main(["export", "gradescope", "--out", str(other), "--visibility", "soon"]) == 1
    assert "after_published" in capsys.readouterr().err


@pytest.fixture(scope="module")
def autograder_root(autograder_zip, tmp_path_factory) -> Path:
    """Gradescope's /autograder after the image build: the zip unpacked into source/, setup.sh run.

    setup.sh runs for real, with `python3` meaning this interpreter: its venv sees this
    interpreter's numpy, so pip installs nothing and no network is needed.
    """
    root = tmp_path_factory.mktemp("autograder")
    with zipfile.ZipFile(autograder_zip) as archive:
        for info in archive.infolist():
            archive.extract(info, root / "source")
            os.chmod(root / "source" / info.filename, info.external_attr >> 16)
    shims = root / "shims"
    shims.mkdir()
    (shims / "python3").symlink_to(sys.executable)
    env = {
        **os.environ, gradescope.ROOT_VARIABLE: str(root),
        "PATH": f"{shims}:{os.environ['PATH']}"
    }
    done = subprocess.run(["bash", str(root / "source" / "setup.sh")], env=env, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (
        f"the kit at {root / 'source' / 'kit'}" in done.stdout
        and f"0/{TOTAL_POINTS}" in done.stdout
    )
    assert not (root / "source" / "kit" / "autograder" / "sandboxed" /
                "trusted.py").stat().st_mode & 0o077
    return root


def run_autograder(root: Path, submission: Path) -> tuple[dict, str]:
    """Put `submission` where Gradescope puts it, run run_autograder; results.json and stdout."""
    shutil.rmtree(root / "submission", ignore_errors=True)
    shutil.rmtree(root / "results", ignore_errors=True)
    shutil.copytree(submission, root / "submission")
    env = {**os.environ, gradescope.ROOT_VARIABLE: str(root)}
    done = subprocess.run([str(root / "source" / "run_autograder")], env=env, capture_output=True,
                          text=True, cwd=root)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads((root / "results" / "results.json").read_text()), done.stdout


def loose_reference(folder: Path) -> Path:
    """The reference as students upload to Gradescope: three files, no folder."""
    folder.mkdir()
    for module in ("engine", "nn", "train"):
        shutil.copyfile(REFERENCE_PACKAGE_DIR / f"{module}.py", folder / f"{module}.py")
    return folder


def notebook_only(folder: Path) -> Path:
    folder.mkdir()
    shutil.copyfile(RELEASE_NOTEBOOK, folder / "micrograd_lab.ipynb")
    return folder


SAMPLES = {
    "reference, loose files": loose_reference,
    "a bug in one task": lambda folder: apply(BUG, folder),
    "the untouched notebook": notebook_only,
    "nothing uploaded": lambda folder: folder.mkdir() or folder,
}


@pytest.mark.slow  # Gradescope's run_autograder in its own environment
@pytest.mark.parametrize("make", SAMPLES.values(), ids=SAMPLES.keys())
def test_run_autograder_gives_the_points_of_mgkit_grade(autograder_root, tmp_path, make):
    submission = make(tmp_path / "submission")
    data, stdout = run_autograder(autograder_root, submission)
    # the zip's kit, not this checkout
    assert f"the kit at {autograder_root / 'source' / 'kit'}" in stdout
    seed = data["extra_data"]["seed"]
    expected = grade(gradescope.submission_in(submission), seed).to_gradescope()
    assert [
        (t["name"], t["score"], t["status"], t["output"], t["tags"]) for t in data["tests"]
    ] == [(t["name"], t["score"], t["status"], t["output"], t["tags"]) for t in expected["tests"]]
    assert data["score"] == expected["score"] and data["extra_data"]["graded"]


@pytest.mark.slow  # Gradescope's run_autograder in its own environment
def test_hidden_feedback_and_the_total_wait_for_publication(autograder_root, tmp_path):
    data, stdout = run_autograder(autograder_root, apply(BUG, tmp_path / "submission"))
    assert {test["visibility"] for test in data["tests"]} == {"after_published"}
    # the table: for the instructor only
    assert data["stdout_visibility"] == "hidden" and f"{BUGGY}/{TOTAL_POINTS}" in stdout
    assert str(data["score"]) not in data["output"] and "Score" not in data["output"]
    assert data["output"].startswith(gradescope.PENDING)
    empty = run_autograder(autograder_root, notebook_only(tmp_path / "notebook"))[0]["output"]
    assert "graded" in empty and "Note:" not in empty  # a notebook upload is complete


def test_a_broken_upload_is_told_at_once(tmp_path):
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / "engine.py").write_text("x = 1\n")
    gradescope.run(tmp_path, seed=1)
    data = json.loads((tmp_path / "results" / "results.json").read_text())
    assert "nn.py is missing" in data["output"] and len(data["tests"]) == len(TASK_IDS)
    visible = gradescope.run(tmp_path, visibility="visible", seed=1)
    data = json.loads((tmp_path / "results" / "results.json").read_text())
    assert data["output"].startswith("Score 0 /") and visible.score == 0
    assert {test["visibility"] for test in data["tests"]} == {"visible"}


def test_without_a_submission_folder_the_results_still_list_every_task(tmp_path):
    results = gradescope.run(tmp_path, seed=4)
    data = json.loads((tmp_path / "results" / "results.json").read_text())
    assert not results.graded and [t["tags"] for t in data["tests"]] == [[t] for t in TASK_IDS]
    assert data["score"] == 0 and TOTAL_POINTS == sum(t["max_score"] for t in data["tests"])


# ---- grade-all: regrades, late work, results merged from CI jobs ----------------------------

def small_class(folder: Path) -> Path:
    """Three students: the reference, one bug, nothing written."""
    apply(BUG, folder / "ada")
    shutil.copytree(REFERENCE_PACKAGE_DIR, folder / "ben" / "micrograd",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "cy").mkdir(parents=True)
    return folder


def task_points(results_json: Path) -> list[tuple[str, float, str]]:
    return [(test["name"], test["score"], test["output"])
            for test in json.loads(results_json.read_text())["tests"]]


def test_a_seeded_regrade_reproduces_every_score(tmp_path):
    submissions = small_class(tmp_path / "submissions")
    one = ["--workers", "1"]  # a grader: the scores, not parallel grading, are what is compared
    run = ["grade-all", str(submissions), "--out", str(tmp_path / "first"), "--seed", "11", *one]

    def graded() -> tuple[str, dict[str, list]]:
        return (tmp_path / "first" / GRADEBOOK).read_text(), {
            student: task_points(tmp_path / "first" / student / "results.json")
            for student in ("ada", "ben")
        }

    def runs() -> set[str]:
        results = (tmp_path / "first" / student / "results.json" for student in ("ada", "ben"))
        return {json.loads(path.read_text())["extra_data"]["provenance"]["run"] for path in results}

    assert main(run) == 0
    first, first_run = graded(), runs()
    assert main([*run, "--force"]) == 0  # the regrade: everyone graded again, in place
    # the same scores, from another run's grades
    assert graded() == first and runs().isdisjoint(first_run)
    # an empty total and task cells, never a 0
    nothing = "cy," + "," * (1 + len(TASK_IDS)) + "empty,"
    assert (
        f"ada,{BUGGY}," in first[0] and f"ben,{TOTAL_POINTS}," in first[0] and nothing in first[0]
    )
    # without --seed every student gets a fresh seed, recorded: `mgkit grade --seed` reproduces each
    assert main(["grade-all", str(submissions), "--out", str(tmp_path / "fresh"), *one]) == 0
    for student in ("ada", "ben"):
        data = json.loads((tmp_path / "fresh" / student / "results.json").read_text())
        regrade = grade(submissions / student, data["extra_data"]["seed"]).to_gradescope()
        assert [(t["score"], t["output"]) for t in data["tests"]] == \
            [(t["score"], t["output"]) for t in regrade["tests"]]


DEADLINE = datetime(2025, 3, 1, 23, 59, tzinfo=UTC)


def late_class(folder: Path) -> Path:
    """Four students with the fake checks' correct engine, handed in at different times (the
    collector's <student>.timestamp.txt beside three, the notebook's own time for the fourth)."""
    times = {"early": "2025-03-01T20:00:00+00:00",  # on time
             "day": "2025-03-02 11:00:00.000000 UTC",  # nbgrader's own format: 1 day begun
             "week": "2025-03-08T00:00:00Z"}  # 7 days begun: the cap
    for student, moment in times.items():
        write_submission(folder / student)
        (folder / f"{student}.timestamp.txt").write_text(moment + "\n")
    notebook = folder / "nb.ipynb"
    nbformat.write(
        new_notebook(
            cells=[new_code_cell(CORRECT_ENGINE, metadata={"mgkit": {
                "module": "engine"
            }})]), notebook)
    # no timestamp.txt: its modification time
    late = (DEADLINE + timedelta(days=2, hours=1)).timestamp()
    os.utime(notebook, (late, late))
    return folder


def read_gradebook(path: Path) -> dict[str, dict[str, str]]:
    return {row["student"]: row for row in gradebook_rows(path)}


def late_cells(percent: float, score: float = TOTAL_POINTS) -> tuple[str, str]:
    """The gradebook's late_penalty and total of a score that loses `percent` of itself (10: 10 and
    90 of 100)."""
    lost = round(score * percent / 100, 2)
    return f"{lost:g}", f"{score - lost:g}"


POLICY = LatePolicy(DEADLINE, percent_per_day=10, cap_percent=30)


def bad_time_class(folder: Path) -> Path:
    """The late class, one of whose collector's times is no time at all."""
    late_class(folder)
    (folder / "day.timestamp.txt").write_text("yesterday\n")
    return folder


@pytest.fixture(scope="module")
def late_runs(tmp_path_factory) -> dict[str, Path]:
    """Each OUT the late-work tests read, graded once (by one grader: lateness, not parallel
    grading, is what they read): the late class under POLICY; the class with a bad time under a
    deadline without a penalty, and under no policy at all."""
    runs = {"policy": (late_class, POLICY), "no penalty": (bad_time_class, LatePolicy(DEADLINE)),
            "plain": (bad_time_class, None)}
    outs = {}
    for name, (make, policy) in runs.items():
        folder = tmp_path_factory.mktemp("late")
        grade_all(make(folder / "submissions"), folder / "out", workers=1, seed=3, entry=JUDGED,
                  late=policy)
        outs[name] = folder / "out"
    return outs


def test_the_late_policy_takes_its_share_per_day_begun_up_to_its_cap(late_runs):
    out = late_runs["policy"]
    book = read_gradebook(out / GRADEBOOK)
    assert list(book["early"])[-3:] == ["submitted", "days_late", "late_penalty"]
    assert {
        s: (row["days_late"], row["late_penalty"], row["total"])
        for s, row in book.items()
    } == {
        "early": ("0", *late_cells(0)),
        "day": ("1", *late_cells(10)),
        "nb": ("3", *late_cells(30)),
        # 0 and 100, 10 and 90, 30 and 70 (the cap) on the kit's course
        "week": ("7", *late_cells(30))
    }
    assert book["day"]["submitted"] == "2025-03-02T11:00:00+00:00"
    # a task's cell: its points, untaken
    assert book["day"]["training_loop"] == str(BY_ID["training_loop"].points)
    # as the checks gave
    assert json.loads((out / "day" / "results.json").read_text())["score"] == TOTAL_POINTS
    feedback = (out / "week" / FEEDBACK).read_text()
    assert "7 days after the deadline" in feedback
    lost, left = late_cells(30)
    assert (
        f"takes 30% of the score, {lost} points, which leaves {left} / {TOTAL_POINTS}" in feedback
    )
    assert "Late" not in (out / "early" / FEEDBACK).read_text()
    # no policy: the gradebook of before, lateness nowhere
    assert "days_late" not in (late_runs["plain"] / GRADEBOOK).read_text()


def test_late_work_is_shown_without_a_penalty_when_none_is_set(late_runs):
    book = read_gradebook(late_runs["no penalty"] / GRADEBOOK)
    week = book["week"]
    assert week["days_late"] == "7" and week["total"] == str(
        TOTAL_POINTS) and week["late_penalty"] == "0"


def test_a_bad_time_costs_its_student_a_flag_and_bad_options_one_line(late_runs, tmp_path, capsys):
    book = read_gradebook(late_runs["no penalty"] / GRADEBOOK)
    assert book["day"]["total"] == str(
        TOTAL_POINTS) and book["day"]["submitted"] == "" and book["early"]["flags"] == ""
    assert "'yesterday' is not a time; write it as 2025-03-01T23:59:00+00:00" in book["day"][
        "flags"]
    assert "yesterday" not in (late_runs["plain"] / GRADEBOOK).read_text()  # no deadline: no matter
    submissions = bad_time_class(tmp_path / "submissions")
    with pytest.raises(SystemExit):
        main([
            "grade-all",
            str(submissions), "--out",
            str(tmp_path / "out"), "--deadline", "2025-03-01T23:59"
        ])
    assert "has no time zone" in capsys.readouterr().err
    assert main([
        "grade-all",
        str(submissions), "--out",
        str(tmp_path / "out"), "--late-penalty", "5"
    ]) == 1
    assert "need a --deadline" in capsys.readouterr().err


def test_results_of_several_ci_jobs_merge_into_one_gradebook(late_runs, tmp_path, capsys):
    submissions = late_class(tmp_path / "submissions")
    whole = late_runs["policy"]  # the same class, graded in one run
    # each job grades its share
    for job, students in enumerate((["early", "nb.ipynb"], ["day", "week"])):
        share = tmp_path / f"share-{job}"
        share.mkdir()
        for name in students:  # with the collector's time beside it
            for path in submissions.glob(f"{name.removesuffix('.ipynb')}*"):
                os.rename(path, share / path.name)
        grade_all(share, tmp_path / "parts" / f"graded-{job}", workers=1, seed=3, entry=JUDGED)
    assert main([
        "grade-all",
        str(tmp_path / "parts"), "--merge", "--out",
        str(tmp_path / "merged"), "--deadline", "2025-03-01T23:59:00Z", "--late-penalty", "10",
        "--late-cap", "30"
    ]) == 0
    assert "4 students graded" in capsys.readouterr().out
    assert (tmp_path / "merged" / GRADEBOOK).read_text() == (whole / GRADEBOOK).read_text()
    assert (tmp_path / "merged" / "week" / FEEDBACK).read_text() == (whole / "week" /
                                                                     FEEDBACK).read_text()
    for page in ("index.html", "week/feedback.html"):  # the dashboard too, byte for byte
        assert (tmp_path / "merged" / page).read_bytes() == (whole / page).read_bytes(), page
    shutil.copytree(tmp_path / "parts" / "graded-0" / "early",
                    tmp_path / "parts" / "graded-1" / "early")
    assert main([
        "grade-all",
        str(tmp_path / "parts"), "--merge", "--out",
        str(tmp_path / "merged")
    ]) == 1
    assert "early was graded twice" in capsys.readouterr().err


# ---- GitHub Actions ---------------------------------------------------------------------------

STUDENT_WORKFLOW = RELEASE_DIR / github.STUDENT_WORKFLOW


def readme_commands() -> list[str]:
    """The release README's set-up and check commands but those of the virtual environment, which a
    CI runner does not need (a fresh machine of its own): what the kit's tests run locally."""
    readme = (RELEASE_DIR / "README.md").read_text()
    setup, check = re.findall(r"```bash\n(.*?)```", readme, flags=re.DOTALL)[:2]
    return [line for line in (setup + check).splitlines() if ".venv" not in line]


def test_the_student_workflow_runs_the_readmes_commands_and_reports_every_task():
    text = STUDENT_WORKFLOW.read_text()
    workflow = yaml.safe_load(text)
    assert text == github.student_workflow() and "push" in workflow["on"]
    steps = workflow["jobs"]["run-autograding-tests"]["steps"]
    assert [step["run"] for step in steps
            if "run" in step] == readme_commands() == [github.INSTALL, github.TEST]
    graders = [step for step in steps if step.get("uses") == github.COMMAND_GRADER]
    assert [
        (step["id"], step["with"]["command"], step["with"]["max-score"]) for step in graders
    ] == [(task.id, f"pytest -m {task.id} --undecided-fails", task.points) for task in TASKS]
    reporter = steps[-1]
    assert reporter["uses"] == github.REPORTER and reporter["with"]["runners"] == ",".join(TASK_IDS)
    # the reporter reads each runner's result from <ID>_RESULTS
    assert reporter["env"] == {
        f"{task_id.upper()}_RESULTS": f"${{{{ steps.{task_id}.outputs.result }}}}"
        for task_id in TASK_IDS
    }


def run_command(command: str, cwd: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(["bash", "-e", "-c", command], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


@pytest.mark.slow  # the workflow's steps, each a process
def test_the_student_workflows_commands_work_on_a_students_copy(tmp_path):
    """The workflow's commands, run here on the release with one bug filled in: one table, one exit
    code per task."""
    student = tmp_path / "student"
    shutil.copytree(RELEASE_DIR, student,
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.rmtree(student / "micrograd")
    apply(BUG, tmp_path / "bug")
    shutil.copytree(tmp_path / "bug" / "micrograd", student / "micrograd")
    steps = yaml.safe_load(STUDENT_WORKFLOW.read_text())["jobs"]["run-autograding-tests"]["steps"]
    summary = tmp_path / "summary.md"
    # a student's fresh environment has no pytest plugins but pytest's own: none auto-loaded here
    # either
    env = {**os.environ, "GITHUB_STEP_SUMMARY": str(summary), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    # installed here
    commands = [step["run"] for step in steps if "run" in step and step["run"] != github.INSTALL]
    commands += [
        step["with"]["command"] for step in steps if step.get("uses") == github.COMMAND_GRADER
    ]
    runs = [run_command(command, student, env) for command in commands]
    codes = [run.wait() for run in runs]
    table = summary.read_text()
    assert table.count("### micrograd tasks") == 1  # the per-task runs add no table of their own
    passed = {task_id for task_id in TASK_IDS if f"| `{task_id}` | passed |" in table}
    # the bug fails its tasks; the op whose closure it overwrites passes its own check, where
    # nothing is reused
    edited = next(task_id for task_id, closure in CLOSURES.items() if closure == BUG.changes[0][1])
    assert not passed & set(BUG.fails) and edited in passed and codes[0] != 0
    assert {task_id for task_id, code in zip(TASK_IDS, codes[1:]) if code == 0} == passed


WORKFLOW_FAKES = {
    # gh repo list ORG ...: the organization's repositories, one a line; gh api .../activity: the
    # push's time
    "gh":
    '#!/usr/bin/env bash\n'
    'if [ "$1" = api ]; then repo="${2#repos/*/}"; cat "$FAKE_REMOTE/${repo%%/*}/.push-time"\n'
    'else printf "%s\\n" $FAKE_REPOSITORIES; fi\n',
    # git clone ... URL DEST copies the fake remote; git -C DEST rev-parse prints the commit; log,
    # its own (forged) date
    "git":
    '#!/usr/bin/env bash\n'
    'if [ "$1" = clone ]; then url="${@: -2:1}"; dest="${@: -1}"\n'
    '  cp -r "$FAKE_REMOTE/$(basename "$url" .git)" "$dest" && mkdir "$dest/.git"\n'
    'elif [ "$3" = rev-parse ]; then echo 0123abcd; else cat "$2/.commit-time"; fi\n',
    # the runner's sysctl, recorded
    "sudo":
    '#!/usr/bin/env bash\necho "$@" >> "$FAKE_REMOTE/../sudo.log"\n',
}


class WorkflowRun:
    """The instructor's workflow run here: its scripts for real, GitHub's actions and services
    simulated.

    Expressions are looked up in `values`; one the test does not know fails it, so the template
    cannot grow an input this test ignores.
    """

    def __init__(self, tmp: Path, values: dict[str, str], env: dict[str, str]):
        self.workflow = yaml.safe_load(github.instructor_workflow())
        self.tmp, self.values, self.artifacts = tmp, values, tmp / "artifacts"
        fakes = tmp / "fakes"
        fakes.mkdir()
        for name, text in WORKFLOW_FAKES.items():
            (fakes / name).write_text(text)
            (fakes / name).chmod(0o755)
        self.env = {**os.environ, **env, "PATH": f"{fakes}:{os.environ['PATH']}"}

    def expand(self, text: str) -> str:
        while "${{" in text:
            start, end = text.index("${{"), text.index("}}")
            text = text[:start] + self.values[text[start + 3:end].strip()] + text[end + 2:]
        return text

    def job(self, name: str, workspace: Path) -> dict[str, str]:
        """Run one job's steps in `workspace`; its outputs (from $GITHUB_OUTPUT)."""
        workspace.mkdir(parents=True)
        output, summary = workspace / ".output", workspace / ".summary"
        base = {key: self.expand(value) for key, value in self.workflow["env"].items()}
        for step in self.workflow["jobs"][name]["steps"]:
            if "uses" in step:
                inputs = {
                    key: self.expand(str(value))
                    for key, value in step.get("with", {}).items()
                }
                self.action(step["uses"].split("@")[0], inputs, workspace)
            elif step["run"].startswith("pip install"):
                # the README's install, of the kit: installed here
                assert step["run"] == "pip install -e ./kit"
            else:
                assert "${{" not in step["run"]  # inputs reach scripts through env only
                env = {
                    **self.env,
                    **base, "GITHUB_OUTPUT": str(output),
                    "GITHUB_STEP_SUMMARY": str(summary),
                    **{
                        key: self.expand(str(value))
                        for key, value in step.get("env", {}).items()
                    }
                }
                done = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=workspace, env=env,
                                      capture_output=True, text=True)
                assert done.returncode == 0, f"{step.get('name')}: {done.stderr[-2000:]}"
        lines = output.read_text().splitlines() if output.exists() else []
        return dict(line.split("=", 1) for line in lines)

    def action(self, action: str, inputs: dict[str, str], workspace: Path) -> None:
        if action == "actions/upload-artifact":
            source, artifact = workspace / inputs["path"], self.artifacts / inputs["name"]
            if source.is_dir():
                shutil.copytree(source, artifact)
            else:
                artifact.mkdir(parents=True)
                shutil.copy(source, artifact)
        elif action == "actions/download-artifact" and "name" in inputs:
            shutil.copytree(self.artifacts / inputs["name"], workspace / inputs.get("path", "."),
                            dirs_exist_ok=True)
        # every artifact matching the pattern, each in its own folder
        elif action == "actions/download-artifact":
            for artifact in self.artifacts.glob(inputs["pattern"]):
                shutil.copytree(artifact, workspace / inputs["path"] / artifact.name)
        else:  # checkout of the kit, setup-python: this test runs inside the installed kit
            assert action in ("actions/checkout", "actions/setup-python"), action
            assert action != "actions/checkout" or inputs == {
                "repository": "staff/kit",
                "token": "t0ken",
                "path": "kit",
                "persist-credentials": "False"
            }


@pytest.mark.slow  # the workflow's steps, each a process
def test_the_instructor_workflow_grades_a_class_in_a_matrix_like_grade_all(tmp_path):
    remote = tmp_path / "remote"  # the organization's repositories
    local = small_class(tmp_path / "class")  # the same students, as grade-all grades them here
    times = {
        "ada": "2025-03-01T22:00:00+00:00",
        "ben": "2025-03-03T09:00:00+00:00",
        "cy": "2025-03-01T08:00:00Z"
    }
    for student, moment in times.items():
        shutil.copytree(local / student, remote / f"lab1-{student}")
        # what GitHub recorded
        (remote / f"lab1-{student}" / ".push-time").write_text(moment + "\n")
        # backdated: ignored
        (remote / f"lab1-{student}" / ".commit-time").write_text("2025-02-01T00:00:00+00:00\n")
        (local / f"{student}.timestamp.txt").write_text(moment + "\n")
    values = {
        "inputs.organization || github.repository_owner": "course",
        "inputs.prefix": "lab1",
        "vars.MGKIT_REPOSITORY || github.repository": "staff/kit",
        "env.KIT_REPOSITORY": "staff/kit",
        "secrets.GRADER_TOKEN": "t0ken",
        "inputs.seed": "",
        "inputs.students_per_job": "2",
        "inputs.deadline": "2025-03-01T23:59+00:00",
        "inputs.late_penalty": "10",
        "inputs.late_cap": "30"
    }
    run = WorkflowRun(tmp_path, values, {
        "FAKE_REPOSITORIES": "lab1-ada lab1-ben other-repo lab1-cy",
        "FAKE_REMOTE": str(remote)
    })
    listed = run.job("list", tmp_path / "list")
    assert json.loads(listed["jobs"]) == [0, 1] and 0 <= int(listed["seed"]) < 10**6
    values.update({"needs.list.outputs.seed": listed["seed"], "strategy.job-total": "2"})
    for job in json.loads(listed["jobs"]):
        values["matrix.job"] = str(job)
        run.job("grade", tmp_path / f"grade-{job}")
    assert sorted(path.name for path in (tmp_path / "grade-0" / "submissions").iterdir()) == [
        "ada", "ada.timestamp.txt", "cy", "cy.timestamp.txt"]  # the time beside the student's files
    assert not (tmp_path / "grade-0" / "submissions" / "ada" / ".git").exists()
    run.job("gradebook", tmp_path / "gradebook")
    gathered = (run.artifacts / "gradebook" / GRADEBOOK).read_text()
    grade_all(local, tmp_path / "here", seed=int(listed["seed"]), late=LatePolicy(
        datetime(2025, 3, 1, 23, 59, tzinfo=UTC), percent_per_day=10, cap_percent=30))
    assert gathered == (tmp_path / "here" / GRADEBOOK).read_text()
    # ben: 2 days late
    assert f"ben,{late_cells(20)[1]}," in gathered and f"ada,{BUGGY}," in gathered
    assert f"Seed {listed['seed']}" in (tmp_path / "gradebook" / ".summary").read_text()
    # isolation on
    assert "kernel.apparmor_restrict_unprivileged_userns=0" in (tmp_path / "sudo.log").read_text()


def test_export_github_writes_the_instructor_template(tmp_path, capsys):
    out = tmp_path / "grade-class.yml"
    assert main(["export", "github", "--out", str(out)]) == 0
    assert out.read_text() == github.INSTRUCTOR_TEMPLATE.read_text()
    out.write_text("# edited by the course staff\n")
    assert main(["export", "github", "--out", str(out)
                 ]) == 1 and "--force" in capsys.readouterr().err
