"""`mgkit release`: the committed release is fresh, holds no solution, and works for a new
student."""

from __future__ import annotations

import contextlib
import fnmatch
import functools
import io
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import started_together

from autograder.cli import main
from autograder.reference.markers import find_regions
from autograder.reference.rubric import BY_ID, TASK_IDS, TASKS, TOTAL_POINTS
from autograder.reference.solution import COURSE_ROOT, REFERENCE_PACKAGE_DIR
from autograder.release import build as release

RELEASE_DIR = COURSE_ROOT / release.RELEASE
COURSE_FILES = ["assignments", "course.toml", "nbgrader_config.py", "release", "solutions"]
LEFTOVER_PARTS = {"__pycache__", ".pytest_cache", ".ipynb_checkpoints"}


def released_files() -> list[Path]:
    return sorted(p for p in RELEASE_DIR.rglob("*") if p.is_file() and not LEFTOVER_PARTS
                  & set(p.parts) and not p.suffix == ".pyc" and ".egg-info" not in str(p))


def readable_lines(path: Path) -> list[str]:
    text = path.read_text()
    if path.suffix == ".ipynb":
        return [
            line for cell in json.loads(text)["cells"]
            for line in "".join(cell["source"]).splitlines()
        ]
    return text.splitlines()


def solution_body_lines() -> dict[str, str]:
    """Each code line that only a solution region has -> where it is in the reference."""
    inside, outside = {}, set()
    for path in sorted(REFERENCE_PACKAGE_DIR.glob("*.py")):
        lines = path.read_text().splitlines()
        body = {n for region in find_regions(path) for n in range(region.begin + 1, region.end)}
        for number, line in enumerate(lines, start=1):
            if number in body:
                inside.setdefault(line.strip(), f"{path.name}:{number}")
            else:
                outside.add(line.strip())
    return {
        line: where
        for line, where in inside.items()
        if line and not line.startswith("#") and line not in outside
    }


def test_the_release_holds_no_marker_and_no_line_of_a_solution() -> None:
    solution = solution_body_lines()
    assert len(solution) > 20  # the regions' own lines were found
    files = released_files()
    assert any(p.suffix == ".ipynb" for p in files) and any(p.name == "engine.py" for p in files)
    for path in files:
        for number, line in enumerate(readable_lines(path), start=1):
            where = f"{path.relative_to(COURSE_ROOT)}:{number}"
            assert "BEGIN SOLUTION" not in line and "END SOLUTION" not in line, where
            assert "BEGIN HIDDEN TESTS" not in line, where
            assert line.strip(
            ) not in solution, f"{where} holds {solution.get(line.strip())}: {line.strip()!r}"


# a whole release, nbgrader's included: test_check_lists_what_differs compares the same files
@pytest.mark.slow
def test_the_committed_release_is_what_mgkit_release_makes(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["release", "--check"]) == 0, capsys.readouterr().out
    assert "up to date" in capsys.readouterr().out


def copy_of_the_kit(to: Path, with_generated: bool = True) -> Path:
    """The inputs of a release (and, if asked, its committed outputs) in a folder of their own."""
    shutil.copytree(REFERENCE_PACKAGE_DIR, to / release.REFERENCE,
                    ignore=shutil.ignore_patterns("__pycache__"))
    (to / release.STORY).parent.mkdir()
    shutil.copyfile(COURSE_ROOT / release.STORY, to / release.STORY)
    shutil.copyfile(COURSE_ROOT / release.NBGRADER_CONFIG, to / release.NBGRADER_CONFIG)
    shutil.copyfile(COURSE_ROOT / "course.toml", to / "course.toml")
    if with_generated:
        for name in release.GENERATED:
            shutil.copytree(COURSE_ROOT / name, to / name,
                            ignore=shutil.ignore_patterns(*LEFTOVER_PARTS))
    return to


def spoiled_copy(to: Path) -> Path:
    """A copy of the kit with three generated files spoiled: one edited, one deleted, one added."""
    root = copy_of_the_kit(to)
    (root / "release/README.md").write_text("edited by hand\n")
    (root / "release/micrograd/nn.py").unlink()
    (root / "release/notes.txt").write_text("not generated\n")
    return root


def said(argv: list[str]) -> tuple[int, str]:
    """`mgkit ARGV` in this process: its exit code and what it printed."""
    with contextlib.redirect_stdout(io.StringIO()) as out:
        code = main(argv)
    return code, out.getvalue()


def generated_files(root: Path) -> dict[str, bytes]:
    """Every file of the folders `mgkit release` makes under `root`, but what running them
    leaves."""
    files = (path.relative_to(root) for name in release.GENERATED
             for path in (root / name).rglob("*") if path.is_file())
    return {
        path.as_posix(): (root / path).read_bytes()
        for path in files if not any(
            fnmatch.fnmatch(part, pattern) for part in path.parts for pattern in release.LEFTOVERS)
    }


def test_check_lists_what_differs(tmp_path: Path) -> None:
    """Only the spoiled files are listed: every other committed file is what a fresh build makes."""
    root = spoiled_copy(tmp_path)
    code, out = said(["release", "--check", "--root", str(root)])
    assert code == 1 and "3 generated files differ" in out
    assert [line for line in out.splitlines() if line.startswith("  ")] == [
        "  release/README.md", "  release/micrograd/nn.py", "  release/notes.txt"]
    assert sorted(p.name for p in root.iterdir()) == COURSE_FILES  # it built elsewhere


# a second whole release, nbgrader's included: in the inner loop, test_courses releases a changed
# course over an old release, and test_check_lists_what_differs compares every other file
@pytest.mark.slow
def test_release_puts_it_right_and_the_committed_release_is_what_it_makes(tmp_path: Path) -> None:
    """The copy's inputs are the committed ones: what release made of them is, file for file, what
    is committed."""
    root = spoiled_copy(tmp_path)
    assert said(["release", "--root", str(root)])[0] == 0
    assert not (root / "release/notes.txt").exists()
    assert sorted(p.name for p in root.iterdir()) == COURSE_FILES
    made, committed = generated_files(root), generated_files(COURSE_ROOT)
    assert sorted(made) == sorted(committed)
    assert [name for name in made if made[name] != committed[name]] == []


# case: (text of engine.py, its replacement, the text on the line to blame, what the error says)
BAD_MARKERS = {
    "unterminated": ("v._backward()\n        ### END SOLUTION\n", "v._backward()\n",
                     "### BEGIN SOLUTION topo_sort", "this region is never closed"),
    "nested":
    ("            self.grad += other.data * out.grad\n",
     "            ### BEGIN SOLUTION mul_backward\n"
     "            self.grad += other.data * out.grad\n",
     "### BEGIN SOLUTION mul_backward", "regions cannot nest"),
    "unknown task id":
    ("BEGIN SOLUTION relu_backward", "BEGIN SOLUTION relu_backwards",
     "### BEGIN SOLUTION relu_backwards grad_accumulation", "unknown task id 'relu_backwards'"),
    "a task with no region": ("BEGIN SOLUTION relu_backward grad_accumulation",
                              "BEGIN SOLUTION add_backward", None,
                              "no solution region for relu_backward"),
}


@pytest.mark.parametrize("case", BAD_MARKERS, ids=list(BAD_MARKERS))
def test_bad_markers_stop_the_release_and_write_nothing(case: str, tmp_path: Path, capsys) -> None:
    root = copy_of_the_kit(tmp_path, with_generated=False)
    (root / "release").mkdir()
    (root / "release/README.md").write_text("the release of yesterday\n")
    engine = root / release.REFERENCE / "engine.py"
    old, new, blamed, message = BAD_MARKERS[case]
    assert old in engine.read_text()
    engine.write_text(engine.read_text().replace(old, new, 1))

    assert main(["release", "--root", str(root)]) == 1
    error = capsys.readouterr().err.split("\n", 1)[1]  # after the line that names the course
    assert message in error and len(error.strip().splitlines()) == 1, error
    if blamed:
        line = next(n for n, text in enumerate(engine.read_text().splitlines(), 1)
                    if text.strip() == blamed)
        assert f"engine.py:{line}: " in error
    assert [p.name for p in (root / "release").iterdir()] == ["README.md"]
    assert (root / "release/README.md").read_text() == "the release of yesterday\n"
    assert sorted(p.name for p in root.iterdir()) == COURSE_FILES


def test_solution_text_outside_a_region_stops_the_release(tmp_path: Path, capsys) -> None:
    root = copy_of_the_kit(tmp_path, with_generated=False)
    story = root / release.STORY
    story.write_text(story.read_text() + "\n```python\nself.grad += out.grad\n```\n")

    assert main(["release", "--root", str(root)]) == 1
    # named in the story itself, before any grading or nbgrader
    lines = story.read_text().splitlines()
    assert (f"{release.STORY}:{len(lines) - 1}: solution text would reach students: "
            "'self.grad += out.grad'") in capsys.readouterr().err
    assert sorted(p.name
                  for p in root.iterdir()) == [name for name in COURSE_FILES if name != "release"]


# --- tried as a new student would ---------------------------------------------------------------


def run_public_tests(folder: Path, *args: str) -> subprocess.CompletedProcess:
    """The student's `pytest`, without installing: the release's pytest config puts `.` on the path.
    With the plugins of the student's own environment only (pytest-timeout, which the release
    installs), not every one installed here."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "pytest_timeout", *args],
        cwd=folder, capture_output=True, text=True, env=env, timeout=300)


def table_rows(output: str) -> dict[str, list[str]]:
    """The score table's rows: task id -> the words after it."""
    rows = (line.split() for line in output.splitlines())
    return {words[0]: words[1:] for words in rows if words and words[0] in TASK_IDS}


# a loop that never ends, asleep in steps the preview's deadline can stop between (one that spins
# is stopped in test_notebooks' lecture cell): not a core spun for the deadline's five seconds
LOOPING = "while True:\n                __import__('time').sleep(0.01)"
# name -> (the reference's mul_backward line replaced by, or None for the starter; the pytest
# arguments)
STUDENTS = {
    "starter": (None, ()),
    "reference": ("self.grad += other.data * out.grad", ()),
    "reference, one task": ("self.grad += other.data * out.grad", ("-m", "mul_backward")),
    "overwriting":
    ("self.grad = other.data * out.grad", ("-m", "grad_accumulation or mul_backward")),
    "looping": (LOOPING, ("-m", "mul_backward or grad_accumulation")),
}


@dataclass(frozen=True)
class PublicRun:
    done: subprocess.CompletedProcess
    seconds: float  # its wall-clock time


@pytest.fixture(scope="module", autouse=True)
def public_runs_started(request, tmp_path_factory) -> Iterator[dict[str, Future[PublicRun]]]:
    """The student's pytest on each copy of the release in STUDENTS, all started as the module
    begins (when the run selects a test that reads them): the loop's run mostly waits for its
    deadline, and the others, and the builds of the tests above, run meanwhile."""
    if not any("public_runs" in item.fixturenames
               for item in request.session.items if item.module is request.module):
        yield {}
        return

    def copy(name: str) -> Path:
        student = shutil.copytree(RELEASE_DIR, tmp_path_factory.mktemp("student") / "student",
                                  ignore=shutil.ignore_patterns(*LEFTOVER_PARTS))
        line = STUDENTS[name][0]
        if line is not None:
            for path in REFERENCE_PACKAGE_DIR.glob("*.py"):
                shutil.copyfile(path, student / "micrograd" / path.name)
            engine = student / "micrograd/engine.py"
            engine.write_text(engine.read_text().replace("self.grad += other.data * out.grad",
                                                         line))
        return student

    def timed(folder: Path, args: tuple[str, ...]) -> PublicRun:
        started = time.monotonic()
        done = run_public_tests(folder, *args)
        return PublicRun(done, time.monotonic() - started)

    folders = {name: copy(name) for name in STUDENTS}
    with started_together({name: functools.partial(timed, folders[name], STUDENTS[name][1])
                           for name in STUDENTS}) as runs:
        yield runs


@pytest.fixture(scope="module")
def public_runs(public_runs_started) -> dict[str, PublicRun]:
    return {name: run.result() for name, run in public_runs_started.items()}


def test_the_starter_fails_every_task_with_its_message(public_runs) -> None:
    done = public_runs["starter"].done
    # tests failed; 2 would be a collection error
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"{len(TASKS)} failed in" in done.stdout and "error" not in done.stdout.splitlines()[-1]
    # an untouched task fails whatever the engine
    assert "skipped" not in done.stdout.splitlines()[-1]
    assert "Traceback" not in done.stdout and "mgkit_checks" not in done.stdout
    for task in TASKS:
        assert table_rows(done.stdout)[task.id] == ["failed", "0", "/", str(task.points)]
        # its message
        assert any(line.startswith(f"{task.id}: ") for line in done.stdout.splitlines())
    assert (f"public checks 0/{TOTAL_POINTS}; "
            "hidden checks on other numbers decide the grade") in done.stdout
    assert BY_ID["mul_backward"].hint in done.stdout  # the stub's message reaches the student


def test_the_reference_earns_every_public_point(public_runs) -> None:
    done = public_runs["reference"].done
    assert done.returncode == 0, done.stdout + done.stderr
    for task in TASKS:
        assert table_rows(done.stdout)[task.id] == [
            "passed", str(task.points), "/", str(task.points)
        ]
    everything = TOTAL_POINTS
    assert (f"public checks {everything}/{everything}; "
            "hidden checks on other numbers decide the grade") in done.stdout

    one = public_runs["reference, one task"].done
    assert f"1 passed, {len(TASKS) - 1} deselected" in one.stdout
    rows = table_rows(one.stdout)
    assert rows["mul_backward"][0] == "passed" and rows["add_backward"][:2] == ["not", "run"]
    assert f"public checks {BY_ID['mul_backward'].points}/{TOTAL_POINTS}" in one.stdout


def test_a_mistake_costs_its_task_and_says_why(public_runs) -> None:
    done = public_runs["overwriting"].done
    assert table_rows(done.stdout)["grad_accumulation"][0] == "failed"
    assert table_rows(done.stdout)["mul_backward"][0] == "passed"
    failure = next(line for line in done.stdout.splitlines()
                   if line.startswith("grad_accumulation: "))
    assert "a * b" in failure and "add" in failure


def test_a_hang_costs_seconds_and_one_line(public_runs) -> None:
    run = public_runs["looping"]
    assert run.seconds < 60  # one deadline of a few seconds, not pytest-timeout's last resort
    line = next(line for line in run.done.stdout.splitlines() if line.startswith("mul_backward: "))
    assert ("did not finish in 5 s: "
            "look for a loop that never ends in `__mul__`'s `_backward`") in line, line
    assert "Traceback" not in run.done.stdout and "Timeout" not in run.done.stdout
    # a closure that never finishes is not seen
    assert table_rows(run.done.stdout)["grad_accumulation"][0] == "failed"


def test_nbformat_loads_without_compiling_the_iri_grammar_and_iris_are_still_checked() -> None:
    """autograder.release defers jsonschema's IRI grammar (0.9 s of every `import nbformat`) to
    its first use; what an IRI check says is unchanged."""
    program = (
        "import sys; import autograder.release, nbformat; from jsonschema import FormatChecker\n"
        "print('rfc3987_syntax.syntax_helpers' in sys.modules)\n"
        "check = FormatChecker().conforms\n"
        "print(check('http://example.com/\u00e4', 'iri'), check('not an iri ::', 'iri'))\n"
        "print('rfc3987_syntax.syntax_helpers' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          check=True)
    assert done.stdout.split() == ["False", "True", "False", "True"]
    # nbgrader's process with the stand-in (iri_grammar.NBGRADER) is every release's above
