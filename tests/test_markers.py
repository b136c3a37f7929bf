"""Solution markers in the reference, the errors for malformed ones, and the stubs made from
them."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
from pathlib import Path

import pytest

from autograder.reference import rubric
from autograder.reference import solution as reference
from autograder.reference.markers import (
    BEGIN,
    END,
    MarkerError,
    check_every_task_has_a_region,
    find_regions,
)
from autograder.reference.rubric import TASK_IDS
from autograder.reference.stubs import WIDTH, make_stub, stub_lines
from mgkit_checks.numeric import evaluate
from mgkit_checks.ops import OPS

SOLUTION_FILES = sorted(reference.REFERENCE_PACKAGE_DIR.glob("*.py"))


def _all_regions():
    return [region for path in SOLUTION_FILES for region in find_regions(path)]


# --- the reference's regions ---------------------------------------------------------------------

def test_every_task_has_a_region_in_the_reference():
    regions = _all_regions()
    check_every_task_has_a_region(regions, str(reference.REFERENCE_PACKAGE_DIR))
    assert {task_id for region in regions for task_id in region.task_ids} == set(TASK_IDS)


def test_a_task_without_a_region_is_named():
    regions = [region for region in _all_regions() if "topo_sort" not in region.task_ids]
    with pytest.raises(MarkerError,
                       match=r"^solutions/micrograd: no solution region for topo_sort;"):
        check_every_task_has_a_region(regions, "solutions/micrograd")


@pytest.mark.parametrize("path", SOLUTION_FILES, ids=lambda path: path.name)
def test_the_markers_are_plain_comments(path):
    # the reference runs as it is: without its marker lines it is the very same program
    text = path.read_text()
    unmarked = "\n".join(line for line in text.splitlines()
                         if not line.strip().startswith((BEGIN, END)))
    assert ast.dump(ast.parse(text)) == ast.dump(ast.parse(unmarked))


def test_the_reference_runs_with_its_markers():
    micrograd = reference.load()
    x = micrograd.engine.Value(0.5)
    y = (x * x).exp() + x.tanh() - x.relu()
    y.backward()
    assert x.grad != 0
    micrograd.nn.MLP(2, [2, 1]).zero_grad()


# --- malformed markers: MarkerError, `file:line: what is wrong`
# ------------------------------------------

MALFORMED = {
    "unterminated": ("x = 1\n### BEGIN SOLUTION mul_backward\ny = 2\n", 2),
    "unterminated after a good region": (
        (
            "### BEGIN SOLUTION mul_backward\ny = 2\n### END SOLUTION\n### BEGIN SOLUTION"
            " add_backward\nz = 3\n"
        ),
        4,
    ),
    "nested": (
        (
            "### BEGIN SOLUTION mul_backward\ny = 2\n    ### BEGIN SOLUTION add_backward\nz\n###"
            " END SOLUTION\n"
        ),
        3,
    ),
    "unknown task id": ("x = 1\n### BEGIN SOLUTION mult_backward\ny = 2\n### END SOLUTION\n", 2),
    "no task id": ("### BEGIN SOLUTION\ny = 2\n### END SOLUTION\n", 1),
    "END without BEGIN": ("x = 1\ny = 2\n### END SOLUTION\n", 3),
    "BEGIN with two hashes": ("## BEGIN SOLUTION mul_backward\ny = 2\n### END SOLUTION\n", 1),
    "BEGIN without a space": ("###BEGIN SOLUTION mul_backward\ny = 2\n### END SOLUTION\n", 1),
    "BEGIN SOLUTIONS": ("### BEGIN SOLUTIONS mul_backward\ny = 2\n### END SOLUTION\n", 1),
    "END with a task id": (
        "### BEGIN SOLUTION mul_backward\ny = 2\n### END SOLUTION mul_backward\n",
        3,
    ),
    "BEGIN misspelt, END right": (
        "x = 1\n### BEGIN SOLUTON mul_backward\ny = 2\n### END SOLUTION\n",
        2,
    ),
    "empty region": ("x = 1\n    ### BEGIN SOLUTION mul_backward\n    ### END SOLUTION\n", 2),
}


@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_markers_say_file_and_line(name):
    text, line = MALFORMED[name]
    path = Path("micrograd") / "engine.py"
    with pytest.raises(MarkerError) as error:
        find_regions(path, text)
    assert str(error.value).startswith(f"{path}:{line}: "), str(error.value)


def test_unknown_task_id_lists_the_known_ones():
    with pytest.raises(
            MarkerError,
            match="unknown task id 'mult_backward'; use one of: add_backward, mul_backward"):
        find_regions(Path("engine.py"), MALFORMED["unknown task id"][0])


@pytest.mark.parametrize("text", [
    "### begin solution mul_backward\ny = 2\n### end solution\n",
    "### BEGIN SOLUTON mul_backward\ny = 2\n### END SOLUTON\n",
], ids=["lower case", "SOLUTON"])
def test_a_consistently_misspelt_pair_is_an_error(text):
    with pytest.raises(MarkerError):
        find_regions(Path("engine.py"), text)


def test_a_region_may_serve_several_tasks():
    text = (
        "def f():\n    ### BEGIN SOLUTION add_backward grad_accumulation\n    return 1\n    ### END"
        " SOLUTION\n"
    )
    [region] = find_regions(Path("engine.py"), text)
    assert (region.begin, region.end, region.task_ids,
            region.indent) == (2, 4, ("add_backward", "grad_accumulation"), "    ")
    assert region.task_id == "add_backward"


# --- stubs
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", SOLUTION_FILES, ids=lambda path: path.name)
def test_a_stub_keeps_every_line_outside_the_regions(path):
    text = path.read_text()
    regions = find_regions(path)
    stub = make_stub(path)
    compile(stub, str(path), "exec")
    inside = {number for region in regions for number in range(region.begin, region.end + 1)}
    outside = [
        line for number, line in enumerate(text.splitlines(), start=1) if number not in inside
    ]
    raises = [line for region in regions for line in stub_lines(region.task_id, region.indent)]
    lines = stub.splitlines()
    assert [line for line in lines if line in raises] == raises  # one raise per region, in order
    assert [line for line in lines if line not in raises] == outside
    assert all(len(line) <= WIDTH for line in raises)  # the starter keeps the line length
    assert stub.endswith("\n") == text.endswith("\n")
    assert "SOLUTION" not in stub


@pytest.mark.parametrize("indent", ["", " " * 12, " " * 60])
def test_a_stubs_hint_is_cut_only_at_spaces_and_joins_back_whole(indent):
    for task_id, task in rubric.BY_ID.items():
        lines = stub_lines(task_id, indent)
        raised = "\n".join(lines).strip()
        # the exception it raises
        assert eval(raised.removeprefix("raise ")).args == (task.message,)
        if len(indent) <= 12:
            assert max(map(len, lines)) <= WIDTH


def test_the_stubs_hold_a_raise_for_every_regions_task():
    stubs = "\n".join(make_stub(path) for path in SOLUTION_FILES)
    for region in _all_regions():
        assert f'raise NotImplementedError("{region.task_id}: ' in stubs


@pytest.fixture
def starter(tmp_path):
    """The stubbed reference, imported as a package under a private name."""
    package_dir = tmp_path / "micrograd"
    package_dir.mkdir()
    for path in SOLUTION_FILES:
        (package_dir / path.name).write_text(make_stub(path))
    name = "mgkit_test_starter"
    spec = importlib.util.spec_from_file_location(
        name, package_dir / "__init__.py", submodule_search_locations=[str(package_dir)]
    )
    package = importlib.util.module_from_spec(spec)
    sys.modules[name] = package
    try:
        spec.loader.exec_module(package)
        for module in reference.MODULES:
            importlib.import_module(f"{name}.{module}")
        yield package
    finally:
        for key in [key for key in sys.modules if key == name or key.startswith(f"{name}.")]:
            del sys.modules[key]


def _closure(op):
    """Run the closure of one op of the course on the starter's Values, at an input in its
    domain."""
    def run(starter):
        low, high = op.spec.intervals()[-1]  # the highest piece: relu active, log defined
        x = starter.engine.Value((low + high) / 2)
        out = evaluate(op.text.format(power=2), {"a": x, "b": x})
        out.grad = 1.0
        out._backward()
    return run


STUB_TRIGGERS = {
    **{op.task_id: _closure(op) for op in OPS.values()},
    "topo_sort": lambda starter: starter.engine.Value(0.5).backward(),
    "zero_grad": lambda starter: starter.nn.MLP(2, [2, 1]).zero_grad(),
}


@pytest.mark.parametrize("task_id", STUB_TRIGGERS)
def test_a_stub_fails_by_its_task_name(starter, task_id):
    with pytest.raises(NotImplementedError, match=rf"^{task_id}: \w"):
        STUB_TRIGGERS[task_id](starter)


def test_the_starters_forward_pass_works(starter):
    x = starter.engine.Value(0.5)
    assert (x * 2 + 1).tanh().data == pytest.approx(0.9640275800758169)
    out = starter.nn.MLP(2, [3, 1])([1.0, -1.0])
    assert isinstance(out, starter.engine.Value)
    xs, ys = starter.train.make_moons(10, seed=0)
    assert xs.shape == (10, 2)
