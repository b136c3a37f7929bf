"""The notebook track: the nbgrader source notebook, built from a story and the reference.

The story (assignments/micrograd_lab.md) is Markdown with three kinds of directive lines:

    %% module engine: head Value   a cell holding these pieces of solutions/micrograd/engine.py
    %% check mul_backward          the autograded cell of a task, worth its rubric points
    %% check ops                   those of every op task of the course (course.toml), in order
    %% tasks                       the rubric's task table

and ```python fences for the cells students run to explore. A module's pieces are its head
(docstring and imports, named `head`) and each top-level def or class, by name, with the
comments and statements just above it. Every piece goes into exactly one cell and every task
gets exactly one check, so the notebook holds the whole reference and grades every task.

Each cell holding module code is tagged `metadata["mgkit"] = {"module": "engine"}`, so that
`module_sources` can rebuild engine.py, nn.py and train.py from a submitted notebook.
"""

from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import nbformat
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from ..reference import rubric
from ..reference.markers import Region, find_regions
from ..reference.solution import MODULES
from ..reference.stubs import WIDTH


class StoryError(ValueError):
    """The story is malformed; the message is `file:line: what is wrong; what to do`."""


@dataclass(frozen=True)
class Piece:
    module: str
    name: str
    source: str  # the lines of the reference, as they are
    # relative imports: kept for the module, not run in a notebook
    package_imports: tuple[str, ...] = ()


# --- the reference, cut into pieces -------------------------------------------------------------


def module_pieces(package_dir: Path) -> dict[tuple[str, str], Piece]:
    """Every piece of every graded module, keyed by (module, name), in file order."""
    return {
        (piece.module, piece.name): piece
        for module in MODULES
        for piece in _pieces(package_dir / f"{module}.py")
    }


def _pieces(path: Path) -> list[Piece]:
    """Cut one file into its head and its defs; every line of the file lands in one piece."""
    module, text = path.stem, path.read_text()
    lines = text.splitlines()
    body = ast.parse(text, filename=str(path)).body
    head = body[: _head_length(body)]
    if not head:
        raise StoryError(
            f"{path}:1: a module starts with its docstring and imports; they make its first cell")
    relative = [node for node in head if isinstance(node, ast.ImportFrom) and node.level]
    head_lines = [line for number, line in enumerate(lines[: head[-1].end_lineno], start=1)
                  if not any(node.lineno <= number <= node.end_lineno for node in relative)]
    pieces = [
        Piece(module, "head", _trim(head_lines),
              tuple(ast.get_source_segment(text, n) for n in relative))
    ]

    # 1) each def ends a piece; statements between two defs belong to the def below them
    ends = [(node.name, node.end_lineno) for node in body[len(head):] if isinstance(node, _DEFS)]
    if not ends:
        raise StoryError(
            f"{path}:1: nothing to put in cells after the imports; define a function or a class")
    # 2) statements after the last def belong to it
    ends[-1] = (ends[-1][0], body[-1].end_lineno)
    start = head[-1].end_lineno
    for name, end in ends:
        pieces.append(Piece(module, name, _trim(lines[start:end])))
        start = end
    return pieces


_DEFS = (ast.FunctionDef, ast.ClassDef)


def _head_length(body: list[ast.stmt]) -> int:
    """How many statements the head has: the docstring and the imports at the top."""
    count = int(
        bool(body) and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant))
    while count < len(body) and isinstance(body[count], ast.Import | ast.ImportFrom):
        count += 1
    return count


def _trim(lines: list[str]) -> str:
    """The lines as one text, without blank lines at either end."""
    return "\n".join(lines).strip("\n")


# --- the story, read into cells -----------------------------------------------------------------

FENCE = "```python"
DIRECTIVE = "%% "
CHECK_CELL = """\
# {task_id} ({points} points): the grade's own checks, on other numbers; the grade decides
from mgkit_checks.notebook import check

message = check("{task_id}", globals(), cell="{cell}")
assert message is None, message"""


def build_notebook(story: Path, package_dir: Path) -> NotebookNode:
    """The nbgrader source notebook: the story's cells, the reference's pieces, a check per task."""
    builder = _Builder(story, module_pieces(package_dir))
    for kind, line, text in _blocks(story):
        builder.add(kind, line, text)
    builder.finish()
    notebook = new_notebook(cells=builder.cells)
    notebook.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    return notebook


def write_notebook(notebook: NotebookNode, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, str(path))


def _blocks(story: Path):
    """(kind, line, text) for each markdown chunk, python fence and directive of the story."""
    lines = story.read_text().splitlines()
    kind, start, chunk = "markdown", 1, []
    for number, line in enumerate(lines, start=1):
        if kind == "code" and line.strip() == "```":
            yield "code", start, _trim(chunk)
            kind, start, chunk = "markdown", number + 1, []
        elif kind == "code":
            chunk.append(line)
        elif line.strip() == FENCE or line.startswith(DIRECTIVE):
            if _trim(chunk):
                yield "markdown", start, _trim(chunk)
            if line.startswith(DIRECTIVE):
                yield "directive", number, line[len(DIRECTIVE) :].strip()
                kind, start, chunk = "markdown", number + 1, []
            else:
                kind, start, chunk = "code", number, []
        else:
            chunk.append(line)
    if kind == "code":
        raise StoryError(
            f"{story}:{start}: this ```python block is never closed; end it with a line of ```")
    if _trim(chunk):
        yield "markdown", start, _trim(chunk)


class _Builder:
    """Turns the story's blocks into cells, and keeps count of what is placed where."""

    def __init__(self, story: Path, pieces: dict[tuple[str, str], Piece]):
        self.story = story
        self.pieces = pieces
        self.cells: list[NotebookNode] = []
        self.placed: dict[tuple[str, str], int] = {}  # piece -> story line of its cell
        # task id -> index of the last cell holding one of its regions
        self.solved_in: dict[str, int] = {}
        self.cell_of: dict[str, str] = {}  # task id -> that cell, in words, for its check's message
        self.checked_in: dict[str, tuple[int, int]] = {}  # task id -> (cell index, story line)

    def add(self, kind: str, line: int, text: str) -> None:
        if kind == "markdown":
            self.cells.append(new_markdown_cell(text, id=f"text-{len(self.cells):02d}"))
        elif kind == "code":
            self.cells.append(new_code_cell(text, id=f"code-{len(self.cells):02d}"))
        else:
            self._directive(line, text)

    def _directive(self, line: int, text: str) -> None:
        word, _, rest = text.partition(" ")
        if word == "module":
            self._module_cell(line, rest)
        elif word == "check" and rest.strip() == "ops":  # every op task of the course, in its order
            for task in rubric.OP_TASKS:
                self._check_cell(line, task.id)
        elif word == "check":
            self._check_cell(line, rest.strip())
        elif word == "tasks" and not rest.strip():
            self.cells.append(new_markdown_cell(_task_table(), id=f"text-{len(self.cells):02d}"))
        else:
            self._fail(
                line, f"unknown directive '%% {text}'; write '%% module <module>: <pieces>', "
                "'%% check <task_id>', '%% check ops' or '%% tasks'")

    def _module_cell(self, line: int, rest: str) -> None:
        module, colon, names = rest.partition(":")
        module, names = module.strip(), names.split()
        if not colon or module not in MODULES or not names:
            self._fail(
                line, f"write '%% module <module>: <pieces>' with a module of {', '.join(MODULES)}")
        pieces = []
        for name in names:
            key = (module, name)
            if key not in self.pieces:
                known = ", ".join(n for m, n in self.pieces if m == module)
                self._fail(line, f"{module}.py has no piece '{name}'; its pieces are: {known}")
            if key in self.placed:
                self._fail(
                    line, f"{module}.py's {name} is already in the cell of line {self.placed[key]}")
            self.placed[key] = line
            pieces.append(self.pieces[key])
        source = "\n\n\n".join(piece.source for piece in pieces)
        regions = find_regions(Path(f"{module}.py"), source)
        for region in regions:
            for task_id in region.task_ids:
                self.solved_in[task_id] = len(self.cells)
                self.cell_of[task_id] = f"the cell that defines {' and '.join(names)} ({module}.py)"
        tag = {"module": module}
        imports = [statement for piece in pieces for statement in piece.package_imports]
        if imports:
            tag["package_imports"] = imports
        grade_id = f"{module}_{names[0]}"
        metadata = {
            "mgkit": tag,
            "nbgrader": _nbgrader(grade_id, solution=bool(regions), locked=not regions)
        }
        self.cells.append(
            new_code_cell(_with_hints(source, regions), id=grade_id, metadata=metadata))

    def _check_cell(self, line: int, task_id: str) -> None:
        if task_id not in rubric.BY_ID:
            self._fail(line,
                       f"unknown task id '{task_id}'; use one of: {', '.join(rubric.TASK_IDS)}")
        if task_id in self.checked_in:
            self._fail(line, f"{task_id} is already checked at line {self.checked_in[task_id][1]}")
        self.checked_in[task_id] = (len(self.cells), line)
        task = rubric.BY_ID[task_id]
        source = CHECK_CELL.format(task_id=task_id, points=task.points,
                                   cell=self.cell_of.get(task_id, "its cell"))
        metadata = {"nbgrader": _nbgrader(task_id, grade=True, locked=True, points=task.points)}
        self.cells.append(new_code_cell(source, id=task_id, metadata=metadata))

    def finish(self) -> None:
        """Every piece in a cell, every task checked after the cells that hold its regions."""
        end = len(self.story.read_text().splitlines())
        for module, name in self.pieces:
            if (module, name) not in self.placed:
                self._fail(
                    end,
                    f"{module}.py's {name} is in no cell; add it to a '%% module {module}:' line")
        for task_id in rubric.TASK_IDS:
            if task_id not in self.checked_in:
                self._fail(
                    end, f"{task_id} has no check; add a line '%% check {task_id}'" +
                    (" (or '%% check ops', for every op task)" if rubric.BY_ID[task_id].op else ""))
            index, line = self.checked_in[task_id]
            if index < self.solved_in.get(task_id, -1):
                self._fail(
                    line,
                    f"the check of {task_id} comes before a cell holding its solution; move it"
                    " below",
                )

    def _fail(self, line: int, message: str) -> NoReturn:
        raise StoryError(f"{self.story}:{line}: {message}")


def _nbgrader(grade_id: str, *, solution: bool = False, grade: bool = False, locked: bool = False,
              points: int | None = None) -> dict:
    """A cell's nbgrader metadata (schema 3): a solution, an autograded check or a read-only
    cell."""
    metadata = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3,
                "solution": solution, "task": False}
    if grade:
        metadata["points"] = points
    return metadata


def _with_hints(source: str, regions: list[Region]) -> str:
    """Above each solution region, a comment naming its task and what to write.

    nbgrader replaces the region with its own stub, so the task id must sit outside it.
    """
    lines = source.splitlines()
    for region in reversed(regions):
        hint = rubric.BY_ID[region.task_id].message
        lines[region.begin - 1:region.begin - 1] = textwrap.wrap(
            hint, WIDTH, initial_indent=f"{region.indent}# ",
            subsequent_indent=f"{region.indent}# ", break_long_words=False, break_on_hyphens=False)
    return "\n".join(lines)


def _task_table() -> str:
    return "\n".join([
        "| task | points | what you write |", "| --- | --- | --- |", *(t.row for t in rubric.TASKS)
    ])


# --- a notebook, back into modules --------------------------------------------------------------


def module_sources(notebook: NotebookNode) -> dict[str, str]:
    """engine.py, nn.py and train.py as a notebook holds them: its tagged cells, in order.

    A module missing from the notebook is missing from the result.
    """
    parts: dict[str, list[str]] = {module: [] for module in MODULES}
    for cell in notebook.cells:
        tag = cell.get("metadata", {}).get("mgkit", {})
        if cell.cell_type == "code" and tag.get("module") in parts:
            parts[tag["module"]].append("\n".join([cell.source, *tag.get("package_imports", [])]))
    return {module: "\n\n\n".join(texts) + "\n" for module, texts in parts.items() if texts}
