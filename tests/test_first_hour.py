"""A student's first hour: the release's README followed as written, in a fresh virtual environment.

The README's set-up block (make a virtual environment, turn it on, `pip install -e .`) and its
check block (`pytest`) run in bash, word for word, in a git clone of the release: the untouched
starter fails every task with its hint, the reference's files earn every public point, and
`git status` shows only the files the student changed. It reaches PyPI (or pip's cache) and takes
about a minute, so it is marked `slow`: `pytest -m "not slow"` leaves it out.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from autograder.reference.rubric import TASK_IDS, TASKS, TOTAL_POINTS
from autograder.reference.solution import COURSE_ROOT, MODULES, REFERENCE_PACKAGE_DIR
from autograder.release import build as release

README = COURSE_ROOT / release.RELEASE / "README.md"
SETUP_SECTION, CHECK_SECTION = "## Set up, once", "## Check your work"
# What the suite's own run sets and a student's shell would not have.
NOT_A_STUDENTS = ("PYTHON", "PYTEST", "VIRTUAL_ENV", "PIP_REQUIRE_VIRTUALENV",
                  "GITHUB_STEP_SUMMARY")


def bash_block(readme: str, heading: str) -> str:
    """The first ```bash block after `heading` in the README."""
    section = readme.split(f"\n{heading}\n", 1)[1]
    return re.search(r"```bash\n(.*?)```", section, flags=re.DOTALL).group(1)


def shell(script: str, folder: Path) -> subprocess.CompletedProcess:
    """Run a README block in bash, in a student's environment (python3 is the suite's:
    tests/conftest.py)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(NOT_A_STUDENTS)}
    return subprocess.run(["bash", "-e", "-c", script], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=600)


def git(folder: Path, *args: str) -> str:
    command = ["git", "-c", "user.name=student", "-c", "user.email=student@example.org", *args]
    return subprocess.run(command, cwd=folder, capture_output=True, text=True, check=True).stdout


def table_rows(output: str) -> dict[str, list[str]]:
    """The score table's rows: task id -> the words after it."""
    rows = (line.split() for line in output.splitlines())
    return {words[0]: words[1:] for words in rows if words and words[0] in TASK_IDS}


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("bash") is None or shutil.which("git") is None, reason="needs bash and git")
def test_the_readme_as_written_takes_a_student_from_a_clone_to_full_marks(tmp_path: Path) -> None:
    readme = README.read_text()
    setup, check = bash_block(readme, SETUP_SECTION), bash_block(readme, CHECK_SECTION)
    # each new terminal's first line
    turn_on = next(line for line in setup.splitlines() if "activate" in line)
    student = Path(shutil.copytree(README.parent, tmp_path / "micrograd",
                                   ignore=shutil.ignore_patterns(*release.LEFTOVERS)))
    git(student, "init", "--quiet")
    git(student, "add", "--all")
    git(student, "commit", "--quiet", "--message", "the release")

    done = shell(setup, student)
    assert done.returncode == 0, done.stdout + done.stderr

    starter = shell(f"{turn_on}\n{check}", student)
    # tests failed; 2 would be a collection error
    assert starter.returncode == 1, starter.stdout + starter.stderr
    for task in TASKS:
        assert table_rows(starter.stdout)[task.id] == ["failed", "0", "/", str(task.points)]
        failure = next(line for line in starter.stdout.splitlines()
                       if line.startswith(f"{task.id}: "))
        # judged on the closures that pass: none yet, and it says which
        if task.id == "grad_accumulation":
            assert "Nothing to judge yet" in failure and "mul_backward" in failure, failure
        else:
            assert "Not written yet" in failure and task.hint in failure, failure  # what to write

    for module in MODULES:
        shutil.copyfile(REFERENCE_PACKAGE_DIR / f"{module}.py",
                        student / "micrograd" / f"{module}.py")
    finished = shell(f"{turn_on}\n{check}", student)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert f"public checks {TOTAL_POINTS}/{TOTAL_POINTS}" in finished.stdout

    changed = git(student, "status", "--porcelain", "--untracked-files=all").splitlines()
    # no .venv, no caches
    assert sorted(changed) == [f" M micrograd/{module}.py" for module in MODULES]
