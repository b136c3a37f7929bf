"""autograder/ is a house of floors: each package imports only the floors below it.

Read from the source with `ast` (every import, at the top or inside a function), each top-level
module or package of autograder/ one node. A new module finds its floor in LAYERS; an import
that runs up the house, or a circle, fails here with the line that does it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "autograder"
# lowest first; a node may import only nodes of a lower layer (or itself)
LAYERS = (
    # the course's files and how files are written; processes under limits
    {"reference", "sandbox"},
    {"sandboxed"},  # what runs inside a worker, and only there (the judge is grading/judge.py)
    {"grading"},  # one submission
    {"platforms"},  # where courses grade: each adapts one grade
    {"release", "classrun"},  # the student kit; a class
    {"__init__"},  # the Python API: one call per command
    {"cli"},  # the command line over it
)
FLOOR = {node: number for number, layer in enumerate(LAYERS) for node in layer}


def _node(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0] if parts[0] != "__init__" or len(parts) > 1 else "__init__"


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every import in the file."""
    module = ".".join(
        ("autograder", *path.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(".__init__")
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[:len(package.split(".")) - node.level +
                                      1] if node.level else []
            name = ".".join([*base, node.module] if node.module else base)
            found += [(node.lineno, f"{name}.{alias.name}") for alias in node.names]
    return found


def _edges() -> dict[tuple[str, str], str]:
    """(importer, imported) -> where, for imports between two nodes of autograder/."""
    edges = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for line, name in _imports(path):
            parts = name.split(".")
            if parts[0] != "autograder" or len(parts) < 2:
                continue
            target = (
                parts[1]
                if (PACKAGE / parts[1]).is_dir() or (PACKAGE / f"{parts[1]}.py").is_file()
                else "__init__"
            )
            if target != _node(path):
                edges.setdefault((_node(path), target),
                                 f"{path.relative_to(PACKAGE.parent)}:{line}")
    return edges


def test_every_module_has_a_floor():
    nodes = {_node(path) for path in PACKAGE.rglob("*.py")}
    assert nodes <= set(FLOOR), f"give these a layer in LAYERS: {sorted(nodes - set(FLOOR))}"


def test_no_import_runs_up_the_house_or_sideways():
    wrong = [
        f"{where}: {importer} imports {imported}"
        for (importer, imported), where in _edges().items() if FLOOR[imported] >= FLOOR[importer]
    ]
    assert not wrong, "\n".join(wrong)


def test_no_circle():
    edges = _edges()
    following = {}
    for importer, imported in edges:
        following.setdefault(importer, set()).add(imported)

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(step == goal or (step not in seen and reaches(step, goal, seen | {step}))
                   for step in following.get(start, ()))

    circles = sorted(node for node in following if reaches(node, node, {node}))
    assert not circles, circles


@pytest.mark.parametrize("package", ["sandbox"])
def test_the_sandbox_imports_nothing_of_the_checks_or_the_tasks(package):
    leaks = [
        f"{path.relative_to(PACKAGE.parent)}:{line}: {name}"
        for path in sorted((PACKAGE / package).rglob("*.py")) for line, name in _imports(path)
        if name.startswith(("mgkit_checks",
                            "autograder.")) and not name.startswith("autograder.sandbox.")
    ]
    assert not leaks, "\n".join(leaks)


def test_the_checker_sees_an_import_that_runs_up(tmp_path, monkeypatch):
    """The test can fail: a sandbox module that imports grading is caught, with its line."""
    fake = tmp_path / "autograder"
    (fake / "sandbox").mkdir(parents=True)
    (fake / "grading").mkdir()
    (fake / "sandbox" / "__init__.py").write_text("from ..grading import loop\n")
    (fake / "grading" / "__init__.py").write_text("")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", fake)
    assert _edges() == {("sandbox", "grading"): "autograder/sandbox/__init__.py:1"}
    with pytest.raises(AssertionError, match="sandbox imports grading"):
        test_no_import_runs_up_the_house_or_sideways()


def _module_edges() -> set[tuple[str, str]]:
    """(importer, imported) between the modules of autograder/ (a package's __init__ is the
    package)."""
    modules = {
        ".".join(("autograder",
                  *path.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(".__init__")
        for path in PACKAGE.rglob("*.py")
    }
    edges = set()
    for path in PACKAGE.rglob("*.py"):
        here = ".".join(
            ("autograder",
             *path.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(".__init__")
        for _, name in _imports(path):
            while name and name not in modules:
                name = name.rpartition(".")[0]
            # a package's own parent: not a circle
            if name and name != here and not here.startswith(name + "."):
                edges.add((here, name))
    return edges


def test_no_circle_between_modules_either():
    """Inside a floor too: the gradebook makes the rows and the dashboard shows them (rows.py below
    both)."""
    following: dict[str, set[str]] = {}
    for importer, imported in _module_edges():
        following.setdefault(importer, set()).add(imported)

    def on_a_circle(start: str) -> bool:
        seen, todo = set(), list(following.get(start, ()))
        while todo:
            step = todo.pop()
            if step == start:
                return True
            if step not in seen:
                seen.add(step)
                todo += following.get(step, ())
        return False

    circles = sorted(module for module in following if on_a_circle(module))
    assert not circles, circles
