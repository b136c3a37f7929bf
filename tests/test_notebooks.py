"""The notebook track: the story makes a complete nbgrader notebook, and the real nbgrader
agrees."""

from __future__ import annotations

import ast
import asyncio
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import nbformat
import pytest

from autograder.reference.markers import find_regions
from autograder.reference.rubric import TASK_IDS, TASKS
from autograder.reference.solution import COURSE_ROOT, MODULES, REFERENCE_PACKAGE_DIR
from autograder.release import build as release
from autograder.release.notebooks import StoryError, build_notebook, module_sources
from mgkit_checks.core import FAILED
from mgkit_checks.preview import Preview

STORY = COURSE_ROOT / release.STORY
SOURCE_NOTEBOOK = COURSE_ROOT / release.SOURCE / f"{release.ASSIGNMENT}.ipynb"
RELEASED_NOTEBOOK = (COURSE_ROOT / release.RELEASE / release.ASSIGNMENT
                     / f"{release.ASSIGNMENT}.ipynb")


@pytest.fixture(scope="module")
def notebook() -> nbformat.NotebookNode:
    return build_notebook(STORY, REFERENCE_PACKAGE_DIR)


def test_every_task_has_one_autograded_check_worth_its_points(notebook) -> None:
    graded = [
        cell.metadata["nbgrader"] for cell in notebook.cells
        if cell.metadata.get("nbgrader", {}).get("grade")
    ]
    assert dict((m["grade_id"], m["points"]) for m in graded) == {
        task.id: task.points
        for task in TASKS
    }
    assert len(graded) == len(TASKS)
    assert all(m["locked"] and not m["solution"] and m["schema_version"] == 3 for m in graded)


def test_solution_cells_hold_every_region_and_name_its_task(notebook) -> None:
    solutions = [
        cell for cell in notebook.cells if cell.metadata.get("nbgrader", {}).get("solution")
    ]
    assert [cell.id for cell in solutions] == ["engine_Value", "nn_Module", "train_train"]
    text = "\n".join(cell.source for cell in solutions)
    regions = sum(len(find_regions(path)) for path in REFERENCE_PACKAGE_DIR.glob("*.py"))
    assert text.count("### BEGIN SOLUTION") == regions == text.count("### END SOLUTION")
    # above its region, at its indent
    assert "        # mul_backward: add each input's local derivative" in text
    ids = [
        cell.metadata["nbgrader"]["grade_id"] for cell in notebook.cells
        if "nbgrader" in cell.metadata
    ]
    assert len(ids) == len(set(ids))


def test_the_notebook_rebuilds_the_reference_modules(notebook) -> None:
    rebuilt = module_sources(notebook)
    assert list(rebuilt) == list(MODULES)
    for module, text in rebuilt.items():
        reference = (REFERENCE_PACKAGE_DIR / f"{module}.py").read_text()
        assert ast.dump(ast.parse(text)) == ast.dump(ast.parse(reference)), module


def load_package(sources: dict[str, str], folder: Path, name: str) -> ModuleType:
    """The modules as a package of their own, under a private name."""
    (folder / name).mkdir()
    (folder / name / "__init__.py").write_text("")
    for module, text in sources.items():
        (folder / name / f"{module}.py").write_text(text)
    spec = importlib.util.spec_from_file_location(name, folder / name / "__init__.py")
    package = importlib.util.module_from_spec(spec)
    sys.modules[name] = package
    spec.loader.exec_module(package)
    for module in sources:
        setattr(package, module, importlib.import_module(f"{name}.{module}"))
    return package


def test_modules_rebuilt_from_a_submitted_notebook_are_graded_like_files(tmp_path: Path) -> None:
    solved = load_package(module_sources(nbformat.read(SOURCE_NOTEBOOK, 4)), tmp_path,
                          "notebook_solved")
    untouched = load_package(module_sources(nbformat.read(RELEASED_NOTEBOOK, 4)), tmp_path,
                             "notebook_untouched")
    solved_preview, untouched_preview = Preview(solved), Preview(untouched)
    for task_id in TASK_IDS:
        assert solved_preview.verdict(task_id).passed, task_id
        assert untouched_preview.verdict(task_id).state == FAILED, task_id


def test_the_committed_source_notebook_is_the_storys(notebook) -> None:
    assert nbformat.reads(nbformat.writes(notebook), 4) == nbformat.read(SOURCE_NOTEBOOK, 4)


# case: (text of the story, its replacement, the text on the line to blame, what the error says)
BAD_STORIES = {
    "unknown piece": ("%% module nn: MLP", "%% module nn: MLP Perceptron",
                      "%% module nn: MLP Perceptron", "nn.py has no piece 'Perceptron'"),
    "piece twice": ("%% module nn: Layer", "%% module nn: Layer Neuron",
                    "%% module nn: Layer Neuron", "nn.py's Neuron is already in the cell of line"),
    "piece left out": ("%% module nn: Layer\n", "", None, "nn.py's Layer is in no cell"),
    "unknown task":
    ("%% check topo_sort", "%% check topo", "%% check topo", "unknown task id 'topo'"),
    "task unchecked": ("%% check topo_sort\n", "", None, "topo_sort has no check"),
    "op tasks unchecked": ("%% check ops\n", "", None, "has no check; add a line '%% check"),
    "check too early": ("%% check zero_grad\n", "", None, None),  # moved up in the test
    "unknown directive": ("%% tasks", "%% task", "%% task", "unknown directive '%% task'"),
    "open fence": ("That is all of micrograd", "```python\nThat is all", "```python",
                   "never closed"),
}


@pytest.mark.parametrize("case", BAD_STORIES, ids=list(BAD_STORIES))
def test_a_bad_story_is_refused_with_file_line_and_what_to_do(case: str, tmp_path: Path) -> None:
    old, new, blamed, message = BAD_STORIES[case]
    text = STORY.read_text()
    assert old in text
    text = text.replace(old, new, 1)
    if case == "check too early":
        text = text.replace("%% module nn: head", "%% check zero_grad\n%% module nn: head")
        blamed = "%% check zero_grad"
        message = "the check of zero_grad comes before a cell holding its solution"
    story = tmp_path / "story.md"
    story.write_text(text)
    with pytest.raises(StoryError) as error:
        build_notebook(story, REFERENCE_PACKAGE_DIR)
    assert message in str(error.value) and str(error.value).startswith(f"{story}:")
    if blamed:
        line = max(n for n, line in enumerate(text.splitlines(), 1) if line == blamed)
        assert str(error.value).startswith(f"{story}:{line}: ")


def nbgrader(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.slow  # nbgrader's own commands, each a process
def test_an_instructors_plain_nbgrader_command_reproduces_the_released_notebook(
        tmp_path: Path) -> None:
    shutil.copyfile(COURSE_ROOT / release.NBGRADER_CONFIG, tmp_path / release.NBGRADER_CONFIG)
    shutil.copytree(COURSE_ROOT / release.SOURCE, tmp_path / release.SOURCE,
                    ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    done = nbgrader("generate_assignment", release.ASSIGNMENT, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    made = tmp_path / release.RELEASE / release.ASSIGNMENT
    committed = COURSE_ROOT / release.RELEASE / release.ASSIGNMENT
    names = sorted(p.relative_to(made).as_posix() for p in made.rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(committed).as_posix() for p in committed.rglob("*")
                           if p.is_file() and "__pycache__" not in p.parts)
    for name in names:
        assert (made / name).read_bytes() == (committed / name).read_bytes(), name
    # the checks come installed, not beside the notebook
    assert not any(name.endswith(".py") for name in names)


@pytest.mark.slow  # nbgrader's own commands, each a process
def test_nbgrader_validate_passes_on_the_source_notebook_with_solutions() -> None:
    done = nbgrader("validate", str(SOURCE_NOTEBOOK), cwd=SOURCE_NOTEBOOK.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Success! Your notebook passes all the tests." in done.stdout


# --- the notebook, run as a student runs it -----------------------------------------------------


def client(notebook: nbformat.NotebookNode, folder: Path):
    """What runs the notebook top to bottom in a real kernel, as Jupyter's "Run All" does, errors
    and all."""
    from nbclient import NotebookClient

    return NotebookClient(notebook, timeout=120, kernel_name="python3", allow_errors=True,
                          resources={"metadata": {"path": str(folder)}})


def up_to(notebook: nbformat.NotebookNode, grade_id: str) -> nbformat.NotebookNode:
    """The notebook's cells up to the check of `grade_id`: the cells after it cannot change its
    output."""
    last = next(number for number, cell in enumerate(notebook.cells)
                if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    return nbformat.from_dict({**notebook, "cells": notebook.cells[:last + 1]})


def wrong_closure() -> nbformat.NotebookNode:
    """The source notebook with mul's closure forgetting out.grad for b."""
    notebook = nbformat.read(SOURCE_NOTEBOOK, 4)
    value = next(cell for cell in notebook.cells if cell.get("id") == "engine_Value")
    assert value.source.count("other.grad += self.data * out.grad") == 1
    value.source = value.source.replace("other.grad += self.data * out.grad",
                                        "other.grad += self.data")
    return up_to(notebook, "mul_backward")


@pytest.fixture(scope="module")
def executed(tmp_path_factory) -> dict[str, nbformat.NotebookNode]:
    """Each notebook the tests below read, run once and all at once (a kernel each): the released
    one, the source one, and the source one with a wrong closure (those two draw with Graphviz's
    dot)."""
    notebooks = {"unfilled": nbformat.read(RELEASED_NOTEBOOK, 4)}
    if shutil.which("dot"):
        notebooks |= {"filled": nbformat.read(SOURCE_NOTEBOOK, 4), "wrong closure": wrong_closure()}
    clients = [
        client(notebook, tmp_path_factory.mktemp("notebook")) for notebook in notebooks.values()
    ]

    async def run_all() -> None:
        await asyncio.gather(*(each.async_execute() for each in clients))

    asyncio.run(run_all())
    return notebooks


def needs_dot() -> None:
    if shutil.which("dot") is None:
        pytest.skip("needs Graphviz's dot program (.ci/run installs it)")


def check_outputs(notebook: nbformat.NotebookNode) -> dict[str, list]:
    return {cell.metadata["nbgrader"]["grade_id"]: cell.outputs for cell in notebook.cells
            if cell.metadata.get("nbgrader", {}).get("grade")}


def errors(outputs: list) -> str:
    return " ".join(output.get("evalue", "") for output in outputs if output.output_type == "error")


def pictures(notebook_or_outputs) -> list[str]:
    outputs = notebook_or_outputs if isinstance(notebook_or_outputs, list) else [
        output for cell in notebook_or_outputs.cells if cell.cell_type == "code"
        for output in cell.outputs
    ]
    return [
        output.data["image/svg+xml"] for output in outputs
        if output.output_type in ("display_data",
                                  "execute_result") and "image/svg+xml" in output.get("data", {})
    ]


def test_run_unfilled_every_check_says_what_to_write_and_where(executed) -> None:
    outputs = check_outputs(executed["unfilled"])
    for task in TASKS:
        said = errors(outputs[task.id])
        assert said.startswith(f"{task.id}: "), (task.id, said)
        if task.id == "grad_accumulation":
            assert "Nothing to judge yet" in said, said
        else:
            assert f"Not written yet: {task.hint}" in said, said
            assert "Change it in the cell that defines" in said, said


def test_run_filled_every_check_passes_and_the_graphs_are_pictures(executed) -> None:
    needs_dot()
    notebook = executed["filled"]
    assert not [errors(outputs) for outputs in check_outputs(notebook).values() if errors(outputs)]
    assert len(pictures(notebook)) >= 3  # the story's draw_dot cells drew


def test_a_wrong_closure_is_drawn_with_the_wrong_node_marked(executed) -> None:
    needs_dot()
    outputs = check_outputs(executed["wrong closure"])["mul_backward"]
    assert "b.grad disagrees" in errors(outputs), errors(outputs)
    [picture] = pictures(outputs)
    # node b, in red, with both numbers
    assert "finite difference" in picture and 'stroke="red"' in picture


def test_a_check_that_cannot_decide_fails_and_says_so(tmp_path: Path) -> None:
    """A backward() that resets every gradient hides a loop that never zeroes here: not a pass."""
    import mutants

    resets = mutants.Edit(
        "resets", (("engine", "        self.grad = 1.0\n        for v",
                    "        for v in topo:\n            v.grad = 0.0\n        self.grad = 1.0\n"
                    "        for v"), ))
    folder = mutants.apply(resets, tmp_path / "s") / "micrograd"
    package = load_package({module: (folder / f"{module}.py").read_text()
                            for module in MODULES}, tmp_path, "notebook_resets")
    from mgkit_checks.notebook import check

    namespace = {
        name: value
        for module in MODULES
        for name, value in vars(getattr(package, module)).items()
    }
    message = check("zero_grad", namespace, cell="the cell that defines Module (nn.py)")
    assert message, message
    assert "could not be checked in this notebook, so it has not passed here" in message, message


def test_a_lecture_cell_that_never_ends_stops_at_the_limit() -> None:
    from IPython.core.interactiveshell import InteractiveShell

    from mgkit_checks.notebook import CellTimeLimit, limit_cells

    shell = InteractiveShell.instance()
    try:
        shell.run_cell("from mgkit_checks.notebook import limit_cells\nlimit_cells(seconds=0.5)")
        stopped = shell.run_cell("while True:\n    pass")
        assert isinstance(stopped.error_in_exec, CellTimeLimit), stopped
        assert shell.run_cell("1 + 1").result == 2  # the next cell runs normally
    finally:
        limit_cells(seconds=None)
        InteractiveShell.clear_instance()
