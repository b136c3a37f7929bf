"""The course: one file, course.toml, says what is graded, how much each task is worth, and how.

Which file (`Course.find`): the copy shipped beside these checks, in a student's release; else
the one asked for (`mgkit --course DIR`), else `MGKIT_COURSE` (a course.toml, or the folder that
holds one) when it is set, else the nearest course.toml in or above the current folder (as pytest
finds its rootdir), else the kit's own, at its root. Nothing reads it at import time: a process
says which course it grades by (`use`), and the kit's modules ask `in_use()` when they need it.

    name = "micrograd_lab"          the assignment's name (nbgrader, the LMS)

    [[task]]                        one per graded task, in the order students meet them
    id = "sigmoid_backward"
    points = 8
    title = "the _backward closure of sigmoid"   what the student writes (tables, feedback)
    hint = "add ..."                             what a stub says to write, not the answer
    expr = "a.sigmoid()"            an op task: how the checks build the op from a (and b)
    domain = [-4, 4]                where its inputs lie
    avoid = [0]                     points its inputs keep `margin` away from (a kink, a pole)
    mistakes = [                    the op's classic mistakes: each input's gradient as that mistake
      {id = "uses_x", grads = ["a * g"], advice = "..."},   gives it, on a, b, g (out.grad), out
    ]                               (its value), p (the power) and exp, log, tanh, abs, max, min

An op task's id is `<op>_backward`; everything else about it (its cases, finite differences,
accumulation cases, stub, test and notebook check) follows from these lines and its solution
region in the reference. The other tasks (topo_sort, grad_accumulation, zero_grad,
training_loop) are defined in code: the course chooses their points, or leaves them out.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # a student's Python 3.10: the release's pyproject installs tomli there
    import tomli as tomllib

FILE_NAME = "course.toml"
HERE = Path(__file__).resolve().parent
OPERATORS = {
    ast.Add: "__add__",
    ast.Mult: "__mul__",
    ast.Pow: "__pow__",
    ast.Sub: "__sub__",
    ast.Div: "__truediv__"
}


class CourseError(ValueError):
    """course.toml is malformed; the message says where and what to change."""


@dataclass(frozen=True)
class Mistake:
    """A classic mistake of one op: the gradients it gives (formulas, one per input) and the
    advice."""

    id: str  # "uses_x": the diagnosis is "<task>/uses_x"
    grads: tuple[str, ...]  # on a, b, g (out.grad), out (the op's value), p (the power)
    advice: str


FORMULA_NAMES = frozenset({"a", "b", "g", "out", "p"})


@dataclass(frozen=True)
class OpSpec:
    """How the checks build an op, where its inputs lie, and the op's own classic mistakes."""

    expr: str  # on inputs a (and b); "{power}" stands for each of `powers`
    domain: tuple[float, float] = (-3.0, 3.0)
    avoid: tuple[float, ...] = ()
    margin: float = 0.1
    powers: tuple[float, ...] = ()
    mistakes: tuple[Mistake, ...] = ()

    @cached_property  # parsed once: the cases read it for every input they draw
    def inputs(self) -> tuple[str, ...]:
        names = {
            node.id
            for node in ast.walk(ast.parse(self.expr.format(power=2)))
            if isinstance(node, ast.Name)
        }
        return tuple(name for name in ("a", "b") if name in names)

    def intervals(self, positive: bool = False) -> list[tuple[float, float]]:
        """The domain cut at the avoided points, each piece `margin` away from them (only the
        positive pieces, for a fractional power's base)."""
        cuts = sorted(x for x in self.avoid if self.domain[0] < x < self.domain[1])
        edges = [self.domain[0], *cuts, self.domain[1]]
        pieces = []
        for low, high in zip(edges, edges[1:]):
            low += self.margin if low in cuts else 0.0
            high -= self.margin if high in cuts else 0.0
            if positive:
                low = max(low, self.margin)
            if low < high:
                pieces.append((low, high))
        return pieces

    @cached_property
    def method(self) -> str:
        """Where the op's closure lives in Value: "sigmoid", "__mul__"."""
        node = ast.parse(self.expr.format(power=2), mode="eval").body
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            return node.func.attr
        return OPERATORS[type(node.op)]


@dataclass(frozen=True)
class Task:
    id: str
    points: int
    title: str  # what the student writes, for tables and feedback
    hint: str  # the one line a stub raises with: what to write, not the answer
    op: OpSpec | None = None  # for an op task: how the checks build it

    @property
    def message(self) -> str:
        """What a stub says, and the notebook above a region: the task and what to write."""
        return f"{self.id}: {self.hint}"

    @property
    def row(self) -> str:
        """The task in a Markdown table of id, points and what the student writes."""
        return f"| `{self.id}` | {self.points} | {self.title} |"


@dataclass(frozen=True)
class Settings:
    """What a course may fix beside its tasks, as grade-all's and export's flags do; a flag still
    wins."""

    deadline: datetime | None = None  # with its time zone: 2026-12-15T23:59:00+01:00
    late_penalty: float | None = None  # percent of the score per day begun after the deadline
    late_cap: float | None = None  # the most the late penalty takes, in percent
    visibility: str | None = None  # Gradescope's: after_published, after_due_date, visible, hidden


VISIBILITIES = ("after_published", "after_due_date", "visible", "hidden")


@dataclass(frozen=True)
class Course:
    path: Path  # the course.toml read
    name: str
    tasks: tuple[Task, ...]
    settings: Settings = field(default_factory=Settings)

    @property
    def root(self) -> Path:
        """The folder of the course file: its solutions/, assignments/ and nbgrader_config.py."""
        return self.path.parent

    @classmethod
    def find(cls, given: Path | None = None, start: Path | None = None) -> Course:
        """The course `find_file` picks: `--course`, $MGKIT_COURSE, the nearest course.toml, the
        kit's."""
        return load(find_file(given, start))

    @property
    def named(self) -> str:
        """The first line of every command's output: which course it uses."""
        return f"course {self.name} ({self.path})"


KIT_FILE = HERE.parent / FILE_NAME  # the kit's own course, at its root


def find_file(given: Path | None = None, start: Path | None = None) -> Path:
    """The course file to use: `given` (a course.toml or its folder), else $MGKIT_COURSE, else the
    nearest course.toml in or above `start` (the current folder), else the kit's own."""
    chosen = given if given is not None else os.environ.get("MGKIT_COURSE")
    if chosen:
        path = Path(chosen).expanduser().resolve()
        path = path / FILE_NAME if path.is_dir() else path
        if not path.is_file():
            named = f"--course {path}" if given is not None else f"MGKIT_COURSE={chosen}"
            raise CourseError(
                f"{named}: no such file or folder; give a course.toml or the folder that holds it")
        return path
    start = (start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / FILE_NAME).is_file():
            return folder / FILE_NAME
    return KIT_FILE


_in_use: Course | None = None  # the course this process grades by: set by `use`, else found once


def in_use() -> Course:
    """The course this process grades by: the one `use` set; else a release's own copy (its stubs
    and forward engine are that course's, whatever the shell says), else `Course.find()`."""
    global _in_use
    if _in_use is None:
        shipped = HERE / FILE_NAME
        _in_use = load(shipped) if shipped.is_file() else Course.find()
    return _in_use


def use(course: Course) -> Course:
    """Grade by `course` from here on in this process (the command line's, a worker's request's)."""
    global _in_use
    _in_use = course
    return course


@contextmanager
def using(course: Course) -> Iterator[Course]:
    """Grade by `course` while inside (a test of a second course, in the same process)."""
    global _in_use
    before, _in_use = _in_use, course
    try:
        yield course
    finally:
        _in_use = before


def load(path: Path) -> Course:
    """The course in `path`; CourseError, naming the file and the entry, if it is malformed."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CourseError(
            f"{path}: no course file; give --course a course.toml, or run from a course's "
            "folder") from None
    except tomllib.TOMLDecodeError as error:
        raise CourseError(f"{path}: not valid TOML ({error}); fix the line it names") from None
    _only(data, {"name", "task", "settings"}, f"{path}")
    tasks = tuple(
        _task(entry, f"{path}: task {number}")
        for number, entry in enumerate(data.get("task", []), 1))
    if not tasks:
        raise CourseError(f"{path}: no tasks; add a [[task]] table for each graded task")
    ids = [task.id for task in tasks]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise CourseError(
            f"{path}: task {twice[0]} is listed twice; keep one [[task]] table per task")
    if "zero_grad" in ids and "training_loop" not in ids:
        raise CourseError(
            f"{path}: zero_grad is judged inside the training loop: keep training_loop in the "
            "course, or leave zero_grad out too")
    name = data.get("name", "micrograd_lab")
    if not (isinstance(name, str) and name.isidentifier()):
        raise CourseError(
            f"{path}: name = {name!r}: the assignment's name is one word of letters, digits and _")
    return Course(path, name, tasks, _settings(data.get("settings", {}), f"{path}: [settings]"))


def _task(entry: dict, where: str) -> Task:
    _only(entry, {
        "id", "points", "title", "hint", "expr", "domain", "avoid", "margin", "powers", "mistakes"
    }, where)
    for key in ("id", "points", "title", "hint"):
        if key not in entry:
            raise CourseError(f"{where}: no {key}; every task has id, points, title and hint")
    task_id, points = entry["id"], entry["points"]
    where = f"{where} ({task_id})"
    if not (isinstance(points, int) and not isinstance(points, bool) and points > 0):
        raise CourseError(
            f"{where}: points = {points!r}; a task is worth a whole number of points above 0")
    op = _op(entry, task_id, where) if "expr" in entry else None
    from .tasks import CODE_TASKS  # the tasks defined in code, not data (they import this module)

    if op is None and task_id not in CODE_TASKS:
        raise CourseError(
            f"{where}: no expr; a task other than {', '.join(CODE_TASKS)} is an op task: "
            f'give its id as <op>_backward and expr, how the checks build it (expr = "a.sigmoid()")'
        )
    return Task(task_id, points, str(entry["title"]), str(entry["hint"]), op)


def _op(entry: dict, task_id: str, where: str) -> OpSpec:
    if not task_id.endswith("_backward") or not task_id.removesuffix("_backward").isidentifier():
        raise CourseError(f"{where}: an op task's id is <op>_backward, such as sigmoid_backward")
    powers = tuple(entry.get("powers", ()))
    if not all(isinstance(p, (int, float)) and not isinstance(p, bool) for p in powers):
        raise CourseError(
            f"{where}: powers = {list(powers)!r}; list numbers, such as [2, 3, -1, 0.5]")
    expr = entry["expr"]
    if ("{power}" in expr) != bool(powers):
        raise CourseError(
            f"{where}: expr has {{power}} exactly when powers lists the exponents to try")
    try:
        spec = OpSpec(expr, _pair(entry.get("domain", (-3.0, 3.0)), where),
                      tuple(float(x) for x in entry.get("avoid", ())),
                      float(entry.get("margin", 0.1)), powers,
                      _mistakes(entry.get("mistakes", ()), where))
        _ = spec.method, spec.inputs  # they parse expr: an error here is the course's
    except (SyntaxError, KeyError, AttributeError, ValueError, TypeError):
        raise CourseError(
            f"{where}: expr = {expr!r}: write the op on inputs a (and b), as a.sigmoid() or "
            "a * b") from None
    if not spec.inputs:
        raise CourseError(f"{where}: expr = {expr!r} uses neither a nor b")
    wrong = [mistake.id for mistake in spec.mistakes if len(mistake.grads) != len(spec.inputs)]
    if wrong:
        raise CourseError(
            f"{where}: mistake {wrong[0]}: give one gradient formula per input of {expr}")
    if not spec.intervals(positive=any(p != int(p) for p in powers)):
        raise CourseError(
            f"{where}: no inputs are left in domain {list(spec.domain)} once {list(spec.avoid)} "
            f"are avoided by {spec.margin}: widen the domain or lower the margin")
    return spec


def _mistakes(entries: object, where: str) -> tuple[Mistake, ...]:
    if not isinstance(entries, (list, tuple)):
        raise CourseError(f"{where}: mistakes = {entries!r}; list tables of id, grads and advice")
    mistakes = []
    for entry in entries:
        _only(entry if isinstance(entry, dict) else {}, {"id", "grads", "advice"},
              f"{where}: a mistake")
        ok = isinstance(entry, dict) and str(entry.get("id", "")).isidentifier() and isinstance(
            entry.get("advice"), str) and isinstance(entry.get("grads"), list) and entry["grads"]
        if not ok:
            raise CourseError(
                f"{where}: mistakes: {entry!r}; each has id (one word), grads (a list of formulas) "
                "and advice (what the student reads)")
        for formula in entry["grads"]:
            _check_formula(formula, f"{where}: mistake {entry['id']}")
        mistakes.append(Mistake(entry["id"], tuple(entry["grads"]), entry["advice"]))
    return tuple(mistakes)


def _check_formula(formula: object, where: str) -> None:
    try:
        names = {
            node.id
            for node in ast.walk(ast.parse(str(formula), mode="eval"))
            if isinstance(node, ast.Name)
        }
    except SyntaxError:
        raise CourseError(f"{where}: {formula!r} is not a formula") from None
    unknown = sorted(names - FORMULA_NAMES - FORMULA_FUNCTIONS)
    if not isinstance(formula, str) or unknown:
        raise CourseError(
            f"{where}: {formula!r} uses {', '.join(unknown) or 'no text'}; a formula is on "
            f"{', '.join(sorted(FORMULA_NAMES))} and {', '.join(sorted(FORMULA_FUNCTIONS))}")


FORMULA_FUNCTIONS = frozenset({"exp", "log", "tanh", "abs", "max", "min"})


def _pair(value: object, where: str) -> tuple[float, float]:
    if not (isinstance(value,
                       (list, tuple)) and len(value) == 2 and float(value[0]) < float(value[1])):
        raise CourseError(f"{where}: domain = {value!r}; give [low, high] with low < high")
    return float(value[0]), float(value[1])


def _settings(data: dict, where: str) -> Settings:
    _only(data, set(Settings.__dataclass_fields__), where)
    deadline = data.get("deadline")
    if isinstance(deadline, str):
        try:
            deadline = datetime.fromisoformat(deadline.replace("Z", "+00:00"))
        except ValueError:
            raise CourseError(
                f"{where}: deadline = {deadline!r} is not a time: write 2026-12-15T23:59:00+01:00"
            ) from None
    if deadline is not None and (not isinstance(deadline, datetime) or deadline.tzinfo is None):
        raise CourseError(f"{where}: deadline = {deadline!r}: give a date, time and time zone, as "
                          "2026-12-15T23:59:00+01:00")
    for key in ("late_penalty", "late_cap"):
        value = data.get(key)
        if value is not None and not (isinstance(value, (int, float)) and 0 <= value <= 100):
            raise CourseError(f"{where}: {key} = {value!r}; a percentage from 0 to 100")
    if data.get("visibility") not in (None, *VISIBILITIES):
        raise CourseError(
            f"{where}: visibility = {data['visibility']!r}; use one of {', '.join(VISIBILITIES)}")
    if deadline is None and ("late_penalty" in data or "late_cap" in data):
        raise CourseError(f"{where}: late_penalty and late_cap need a deadline")
    return Settings(deadline, data.get("late_penalty"), data.get("late_cap"),
                    data.get("visibility"))


def _only(data: dict, known: set[str], where: str) -> None:
    unknown = sorted(set(data) - known)
    if unknown:
        raise CourseError(
            f"{where}: unknown key {unknown[0]!r}; the keys are {', '.join(sorted(known))}")
