"""`mgkit release`: the student kit, generated from the reference and the notebook's story.

Two folders are generated, each replaced whole or not at all:

    assignments/micrograd_lab/    nbgrader's source: the notebook with solutions, the public checks
    release/                      what students get:
        README.md, pyproject.toml   set-up (a virtual environment, two commands), the tasks
        .gitignore                  the virtual environment, caches and checkpoints (LEFTOVERS)
        .github/workflows/          the public checks on every push (Classroom's reporter)
        micrograd/                  the reference with every solution region stubbed
        mgkit_checks/               the checks (the grade's own), installed with the package
        tests/                      one test per task, run by the checks' pytest plugin
        micrograd_lab/              the notebook, as `nbgrader generate_assignment` makes it

Everything is built in a staging folder next to them; only a complete build, in which no line of
a solution survived, is swapped in. The output is deterministic, so `check` can compare bytes.
"""

from __future__ import annotations

import filecmp
import fnmatch
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from mgkit_checks import tasks, world
from mgkit_checks.core import DEFAULT_SECONDS

from ..platforms import github
from ..reference import rubric, solution
from ..reference.markers import Region, check_every_task_has_a_region, find_regions
from ..reference.solution import KIT_ROOT
from ..reference.stubs import make_stub
from . import iri_grammar, notebooks

RELEASE = "release"
REFERENCE = "solutions/micrograd"
NBGRADER_CONFIG = "nbgrader_config.py"

PACKAGE_DIR = Path(__file__).resolve().parent
PUBLIC_TESTS = PACKAGE_DIR / "public_tests"
# shipped whole, one copy: the student's pytest and notebook both use it
CHECKS_DIR = KIT_ROOT / "mgkit_checks"
# What students and instructors leave behind by running the release: the release's .gitignore,
# and never part of a comparison. fnmatch patterns for one file or folder name, as git reads them
# too.
LEFTOVERS = (".venv", "__pycache__", ".pytest_cache", ".ipynb_checkpoints", "*.egg-info", "*.pyc")
# pytest-timeout's limit per test: the checks stop a hanging task long before
LAST_RESORT_SECONDS = 120
FORBIDDEN = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


FORWARD_ENGINE_NOTE = """\
# Written by `mgkit release`: a copy of the starter's micrograd/engine.py, as you got it. The checks
# compute their expected numbers from its forward passes (never its closures), so nothing you
# change in your engine can move them. Write your code in micrograd/engine.py, not here.
"""


class ReleaseError(RuntimeError):
    """The release could not be built; the message says what to fix."""


def source() -> str:
    """The course's nbgrader source folder, under its root."""
    return f"assignments/{rubric.ASSIGNMENT}"


def story() -> str:
    """The notebook's text, under the course's root."""
    return f"assignments/{rubric.ASSIGNMENT}.md"


def generated() -> tuple[str, str]:
    """The folders `mgkit release` owns."""
    return source(), RELEASE


def __getattr__(name: str) -> str | tuple[str, str]:
    """ASSIGNMENT, SOURCE, STORY and GENERATED: the course in use's, read when asked."""
    names = {
        "ASSIGNMENT": lambda: rubric.ASSIGNMENT,
        "SOURCE": source,
        "STORY": story,
        "GENERATED": generated
    }
    if name not in names:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return names[name]()


def release(root: Path | None = None) -> None:
    """Regenerate the kit's generated folders under `root` (the course's own folder unless given);
    on any error they stay as they were."""
    root = root or solution.COURSE_ROOT
    _regions(root / REFERENCE)  # a wrong root or bad markers: say so before making anything
    with tempfile.TemporaryDirectory(prefix=".release-", dir=root) as staging:
        staging = Path(staging)
        build(root, staging / "new")
        for number, name in enumerate(generated()):
            _swap(staging / "new" / name, root / name, staging / f"old-{number}")


def check(root: Path | None = None) -> list[str]:
    """The generated files (relative to root) that a fresh build would change; [] when up to
    date."""
    root = root or solution.COURSE_ROOT
    with tempfile.TemporaryDirectory(prefix="mgkit-release-check-") as staging:
        build(root, Path(staging))
        return sorted(path for name in generated()
                      for path in _differences(Path(staging), root, name))


def build(root: Path, out: Path) -> None:
    """Write the generated folders under `out`, from the reference and the story under `root`."""
    _same_course(root)
    reference = root / REFERENCE
    regions = _regions(reference)  # bad markers stop the release before anything is written
    # the story reaches students as it is: a leak in it is told before seconds of grading
    _refuse_leaks_in(root / story(), Path(story()), _solution_lines(regions))
    _write_module_track(reference, regions, out / RELEASE)
    _refuse_leaks(out / RELEASE, regions)
    # the module track is all it grades: a wrong course is refused before nbgrader's seconds
    _refuse_a_course_that_grades_wrong(root, reference, out / RELEASE)
    _write_notebook_source(root, out / source())
    _generate_assignment(root, out)
    _refuse_leaks(out / RELEASE, regions)  # the notebook nbgrader made too


def _same_course(root: Path) -> None:
    """The course being released is the one the kit has loaded (its tasks name every region)."""
    course = root / "course.toml"
    if course.resolve() != rubric.COURSE.path.resolve() and (
            not course.is_file() or course.read_bytes() != rubric.COURSE.path.read_bytes()):
        raise ReleaseError(
            f"{root}: its course.toml is not the course in use ({rubric.COURSE.path}): "
            f"run `mgkit --course {root} release`")


# --- the module track ---------------------------------------------------------------------------


def _regions(reference: Path) -> list[Region]:
    files = sorted(reference.glob("*.py"))
    if not files:
        raise ReleaseError(
            f"{reference}: no reference files; the release is generated from {REFERENCE}/*.py")
    regions = [region for path in files for region in find_regions(path)]
    check_every_task_has_a_region(regions, str(reference))
    return regions


def _write_module_track(reference: Path, regions: list[Region], out: Path) -> None:
    stubs = {path.name: make_stub(path) for path in sorted(reference.glob("*.py"))}
    for name, text in stubs.items():
        _write(out / "micrograd" / name, text)
    _write(out / "README.md", _readme(regions))
    _write(out / "pyproject.toml", _pyproject())
    _write(out / ".gitignore", "".join(f"{pattern}\n" for pattern in LEFTOVERS))
    _write(out / github.STUDENT_WORKFLOW, github.student_workflow())
    for path in sorted(CHECKS_DIR.glob("*.py")):
        _write(out / "mgkit_checks" / path.name, path.read_text())
    _write(out / "mgkit_checks" / "course.toml", rubric.COURSE.path.read_text(encoding="utf-8"))
    # expect.py reads it
    _write(out / "mgkit_checks" / "forward_engine.py", FORWARD_ENGINE_NOTE + stubs["engine.py"])
    for name in ("conftest.py", "test_tasks.py"):
        _write(out / "tests" / name, (PUBLIC_TESTS / name).read_text())


def _readme(regions: list[Region]) -> str:
    # a dict keeps order, once each
    files: dict[str, dict[str, None]] = {task.id: {} for task in rubric.TASKS}
    for region in regions:
        for task_id in region.task_ids:
            files[task_id][f"`micrograd/{region.path.name}`"] = None
    rows = "\n".join(f"{task.row} {', '.join(files[task.id])} |" for task in rubric.TASKS)
    return README.format(rows=rows, total=sum(task.points for task in rubric.TASKS),
                         assignment=rubric.ASSIGNMENT, seconds=f"{DEFAULT_SECONDS:g}",
                         libraries=_listed(world.LIBRARIES),
                         training_seconds=f"{max(d.seconds for d in tasks.DEFINITIONS.values()):g}")


def _listed(names) -> str:
    names = [f"`{name}`" for name in names]
    return ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else "".join(names)


def _pyproject() -> str:
    markers = "\n".join(f"    {json.dumps(f'{task.id}: {task.title}')}," for task in rubric.TASKS)
    libraries = ", ".join(json.dumps(requirement) for requirement in world.requirements())
    return PYPROJECT.format(markers=markers, timeout=LAST_RESORT_SECONDS, libraries=libraries)


# --- the notebook track -------------------------------------------------------------------------


def _write_notebook_source(root: Path, out: Path) -> None:
    notebook = notebooks.build_notebook(root / story(), root / REFERENCE)
    notebooks.write_notebook(notebook, out / f"{rubric.ASSIGNMENT}.ipynb")


def _generate_assignment(root: Path, out: Path) -> None:
    """Run the real `nbgrader generate_assignment`, with the kit's config, on the staged course."""
    config = root / NBGRADER_CONFIG
    if not config.is_file():
        raise ReleaseError(
            f"{config}: missing; it tells nbgrader that assignments/ is the source folder")
    shutil.copyfile(config, out / NBGRADER_CONFIG)
    command = [  # nbgrader itself, with jsonschema's IRI grammar compiled only if used
        sys.executable, "-c", iri_grammar.NBGRADER, "generate_assignment", rubric.ASSIGNMENT,
        "--no-db", "--log-level=WARN"
    ]
    done = subprocess.run(command, cwd=out, capture_output=True, text=True)
    if done.returncode != 0:
        # the error and its context
        said = " | ".join(done.stderr.strip().splitlines()[-5:]) or "no output"
        raise ReleaseError(
            f"{root / source()}: nbgrader generate_assignment failed on the staged build "
            f"(nothing was written): {said}")


# --- safety and comparison ----------------------------------------------------------------------


def _refuse_leaks(folder: Path, regions: list[Region]) -> None:
    """ReleaseError if any file under `folder` holds a marker or a line of a solution region."""
    solution_lines = _solution_lines(regions)
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        _refuse_leaks_in(path, path.relative_to(folder.parent), solution_lines)


def _refuse_leaks_in(path: Path, where: Path, solution_lines: set[str]) -> None:
    """ReleaseError, naming `where` and the line, if the file holds a marker or a solution line."""
    for number, line in enumerate(_lines(path), start=1):
        stripped = line.strip()
        if stripped in solution_lines or any(marker in line for marker in FORBIDDEN):
            raise ReleaseError(
                f"{where}:{number}: solution text would reach students: {stripped!r}; "
                "keep solution lines inside the regions of the reference")


def _refuse_a_course_that_grades_wrong(root: Path, reference: Path, release_dir: Path) -> None:
    """ReleaseError, naming the task and why, unless the reference earns every point and the
    starter none, in the grade and in the preview."""
    from .course_check import problems  # grading: only a full build needs it

    found = problems(reference, release_dir)
    if found:
        tasks = [problem.partition(":")[0] for problem in found[1:]]
        more = f" (wrong too: {', '.join(tasks)})" if tasks else ""
        raise ReleaseError(
            f"{root / 'course.toml'}: nothing was released, the course does not grade as it says: "
            f"{found[0]}{more}")


def _solution_lines(regions: list[Region]) -> set[str]:
    """The code lines found only inside solution regions (stripped; no blanks, no comments).

    A line the reference also has outside its regions (draw_dot's `while stack:`) is in the
    starter anyway, so it tells nothing.
    """
    inside: set[str] = set()
    outside: set[str] = set()
    for path in {region.path for region in regions}:
        lines = path.read_text().splitlines()
        body = {
            number
            for region in regions if region.path == path
            for number in range(region.begin, region.end - 1)
        }
        for number, line in enumerate(lines):
            (inside if number in body else outside).add(line.strip())
    return {line for line in inside - outside if line and not line.startswith("#")}


def _lines(path: Path) -> list[str]:
    """A file's lines as students read them (a notebook's: the lines of its cells)."""
    text = path.read_text(errors="replace")
    if path.suffix != ".ipynb":
        return text.splitlines()
    return [
        line for cell in json.loads(text)["cells"] for line in "".join(cell["source"]).splitlines()
    ]


def _differences(built: Path, root: Path, name: str) -> list[str]:
    new, old = _files(built / name), _files(root / name)
    return [
        f"{name}/{path}" for path in sorted(new | old)
        if path not in new or path not in old or not filecmp.cmp(built / name / path, root / name /
                                                                 path, False)
    ]


def _files(folder: Path) -> set[str]:
    """The files under `folder`, relative to it, without the leftovers of running them."""
    if not folder.is_dir():
        return set()
    relative = (path.relative_to(folder) for path in folder.rglob("*") if path.is_file())
    return {
        path.as_posix()
        for path in relative if not any(_is_leftover(part) for part in path.parts)
    }


def _is_leftover(name: str) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in LEFTOVERS)


def _swap(new: Path, old: Path, trash: Path) -> None:
    """Put `new` where `old` is; the old folder goes to `trash` (renames: same file system)."""
    if old.exists():
        old.rename(trash)
    old.parent.mkdir(parents=True, exist_ok=True)
    new.rename(old)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


README = """\
# micrograd, built by you

Build Andrej Karpathy's [micrograd](https://github.com/karpathy/micrograd): a scalar autograd
engine, a small neural-network library on top of it, and the loop that trains it.

## Set up, once

You need Python 3.10 or newer: `python3 --version` says which you have (on Windows, `py --version`).
In this folder, make a virtual environment (the packages of this project, kept apart from the
system's: recent Debian, Ubuntu and Homebrew Pythons refuse a plain `pip install`), turn it on,
and install your `micrograd` package with numpy, pytest and the checks:

```bash
python3 -m venv .venv
source .venv/bin/activate
pip install -e .
```

That is for Linux and macOS. On Windows, make it with `py -m venv .venv` and turn it on with
`.venv\\Scripts\\activate` (in PowerShell `.venv\\Scripts\\Activate.ps1`; if PowerShell refuses to
run scripts, run `Set-ExecutionPolicy -Scope CurrentUser RemoteSigned` once). Your prompt then
starts with `(.venv)`. In every new terminal, turn it on again before you run the checks.

## Check your work

```bash
pytest
```

runs the checks of every task and ends with a table of where you stand. They are the checks
that grade you (`mgkit_checks/`, installed with your package), on other numbers.
`pytest -m mul_backward` runs one task. On GitHub, every push runs the same checks and shows
the table on the run's page.

If your code has a loop that never ends (in a `_backward` closure, in `backward()` or in the
training loop), that task stops with one line that says where to look ("mul_backward did not
finish in {seconds} s: look for a loop that never ends in `__mul__`'s `_backward`"), and the run
goes on; Ctrl+C stops the run at once. Each task has {seconds} s, `zero_grad` and
`training_loop` {training_seconds} s (training takes longer), here and in the grade alike, your
files' imports included: code at the top level of a module (a demo left at the bottom of
`train.py`) runs whenever the module is imported, so put it under `if __name__ == "__main__":`.

Your files may import the standard library, {libraries} (installed with your package, and
wherever you are graded) and your own `micrograd`. The checks refuse any other import, here as
in the grade, even where it is installed.

## The tasks

Each task is a `raise NotImplementedError("<task>: ...")` in `micrograd/`, whose message says
what to write. The code around it is complete: the forward passes already work.

| task | points | what you write | where |
| --- | --- | --- | --- |
{rows}

A failing check says which expression it tried, the gradient your code gave, the gradient a
central finite difference gives, and the likely mistake. The checks are the grade's own, on
other numbers: a task passes here exactly when it passes there ({total} points in all). Where
this preview cannot judge your code (the training loop while your engine still fails, an op
built from other ops while your `backward()` still fails), it says "decided by the grade" and why.

## Hand in

`micrograd/engine.py`, `micrograd/nn.py` and `micrograd/train.py`, at these paths.

## Or as a notebook

`{assignment}/{assignment}.ipynb` holds the same tasks as a notebook that follows the lecture.
With the virtual environment turned on:

```bash
pip install -e ".[notebook]"
jupyter lab {assignment}/{assignment}.ipynb
```

The notebook draws graphs with Graphviz's `dot` program, which pip cannot install. Get it with
`sudo apt install graphviz` (Debian, Ubuntu), `brew install graphviz` (macOS, with Homebrew),
`conda install graphviz` (in a conda environment), or on Windows the installer from
https://graphviz.org/download/ (let it add Graphviz to the PATH). Without it, graphs show as text.
"""

PYPROJECT = """\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "micrograd-exercise"
version = "0.1.0"
description = "Your micrograd: a scalar autograd engine, a neural-network library, a training loop."
requires-python = ">=3.10"
dependencies = [
    {libraries}, "pytest>=8", "pytest-timeout>=2", "tomli>=1.1; python_version < '3.11'",
]

[project.optional-dependencies]
notebook = ["jupyterlab>=4"]

[tool.setuptools]
packages = ["micrograd", "mgkit_checks"]

[tool.pytest.ini_options]
testpaths = ["tests"]
pythonpath = ["."]
addopts = "--strict-markers -rs"  # -rs: say why a check was skipped
timeout = {timeout}  # a last resort: the checks stop a task that does not finish in a few seconds
markers = [
{markers}
]
"""
