"""The class dashboard: OUT/index.html and each student's OUT/<student>/feedback.html.

Built from the class's rows alone (rows.Row: the results files, the submission times and
the hand-ins' problems), never from the run itself, so `merge` writes the same page as one run,
byte for byte: everything is sorted, nothing carries a time. The pages are Jinja2 templates
(autograder/classrun/templates/, escaping on); this module only computes what they show.
"""

from __future__ import annotations

import base64
import hashlib
import statistics
from collections import defaultdict
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from urllib.parse import quote

import jinja2
import markupsafe
import mistune

from ..reference import rubric
from ..reference.outputs import write_atomically
from .regrade import REGRADE, read_regrade
from .rows import Row

INDEX = "index.html"
FEEDBACK_PAGE = "feedback.html"
# in every page's <meta name="generator">: marks a page mgkit may replace
GENERATOR = "micrograd-kit dashboard"
ADVICE = "Likely mistake: "  # how a failed task's feedback gives its advice (mgkit_checks.core)
BINS = 10  # ten histogram bars, each a tenth of the total; a full score falls in the last
# the diagnoses of a task left as released (mgkit_checks.core): not a mistake, nothing to teach
NOT_STARTED = ("/not_written", "/nothing_to_judge")

_templates = jinja2.Environment(loader=jinja2.PackageLoader("autograder.classrun", "templates"),
                                autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                                lstrip_blocks=True)
# the page's one script, allowed by its hash alone: the page's CSP runs nothing else and loads
# nothing remote
_SCRIPT = (Path(__file__).parent / "templates" / "sort.js").read_text(encoding="utf-8")
_SCRIPT_HASH = "sha256-" + base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()
# escape: feedback quotes the student's code
_markdown = mistune.create_markdown(escape=True, plugins=["table"])


@dataclass(frozen=True)
class Mistake:
    """A diagnosis id, the advice students read for it, and who made it."""

    diagnosis: str
    advice: str
    students: tuple[str, ...]


@dataclass(frozen=True)
class TaskView:
    task_id: str
    title: str
    passed: int
    graded: int
    mistakes: tuple[Mistake, ...]  # most common first

    @property
    def rate(self) -> float:
        return self.passed / self.graded if self.graded else 0.0


@dataclass(frozen=True)
class Together:
    """Two diagnosis ids that the same students share."""

    first: str
    second: str
    students: tuple[str, ...]


@dataclass(frozen=True)
class Page:
    rows: tuple[Row, ...]
    tasks: tuple[TaskView, ...]
    together: tuple[Together, ...]
    flags: tuple[tuple[str, tuple[str, ...]], ...]  # (flag, its students)
    histogram: tuple[int, ...]  # students per bin of 10 points
    mean: float | None
    median: float | None
    # graded students who handed in the starter untouched: one line, not mistakes
    starters: tuple[str, ...] = ()


def build_page(rows: list[Row]) -> Page:
    """What index.html shows of these rows: the untouched starters apart, so that the mistakes are
    real ones."""
    graded = [row for row in rows if row.state == "graded"]
    starters = [row for row in graded if is_untouched_starter(row)]
    working = [row for row in graded if row not in starters]
    totals = [row.total for row in graded]
    return Page(tuple(rows),
                tuple(task_view(index, graded, working) for index in range(len(rubric.TASKS))),
                mistakes_together(working), flags(rows), histogram(totals),
                statistics.mean(totals) if totals else None,
                statistics.median(totals) if totals else None, tuple(row.student
                                                                     for row in starters))


def not_started(diagnosis: str) -> bool:
    return diagnosis.endswith(NOT_STARTED)


def is_untouched_starter(row: Row) -> bool:
    """Every task failed as the released starter fails it: nothing written, nothing to judge."""
    return all(not task.passed and task.score == 0 and task.diagnoses and
               all(map(not_started, task.diagnoses)) for task in row.grade.tasks)


def task_view(index: int, graded: list[Row], working: list[Row] | None = None) -> TaskView:
    """One task's pass rate over the graded, and the mistakes of `working` (the graded but the
    untouched starters), by diagnosis id: real mistakes first, then a task not written yet; most
    students first."""
    task = rubric.TASKS[index]
    students, advice = defaultdict(list), defaultdict(list)
    for row in graded if working is None else working:
        result = row.grade.tasks[index]
        for number, diagnosis in enumerate(result.diagnoses if not result.passed else ()):
            students[diagnosis].append(row.student)
            advice[diagnosis].append(result.advice[number] if number < len(result.advice) else
                                     # results written before the advice was kept
                                     advice_in(result.feedback))
    mistakes = [Mistake(diagnosis, most_common(advice[diagnosis]), tuple(names))
                for diagnosis, names in students.items()]
    mistakes.sort(key=lambda mistake:
                  (not_started(mistake.diagnosis), -len(mistake.students), mistake.diagnosis))
    passed = sum(row.grade.tasks[index].passed for row in graded)
    return TaskView(task.id, task.title, passed, len(graded), tuple(mistakes))


def advice_in(feedback: str) -> str:
    """The advice a task's feedback ends with, or "" when no classic mistake fitted: only for
    results files written before they kept the advice (extra_data.advice)."""
    return feedback.rpartition(ADVICE)[2].strip() if ADVICE in feedback else ""


def most_common(texts: list[str]) -> str:
    """The text most students read (advice can name a case's numbers); ties go to the first in
    order."""
    return min(set(texts), key=lambda text: (-texts.count(text), text))


def mistakes_together(graded: list[Row]) -> tuple[Together, ...]:
    """Pairs of diagnosis ids made by the same two students or more: mistakes that travel
    together."""
    shared = defaultdict(list)
    for row in graded:
        ids = sorted({
            diagnosis
            for task in row.grade.tasks if not task.passed for diagnosis in task.diagnoses
            # two tasks not written yet are no pattern to teach
            if not not_started(diagnosis)
        })
        for pair in combinations(ids, 2):
            shared[pair].append(row.student)
    pairs = [Together(*pair, tuple(names)) for pair, names in shared.items() if len(names) >= 2]
    return tuple(sorted(pairs, key=lambda pair: (-len(pair.students), pair.first, pair.second)))


def flags(rows: list[Row]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Each flag of the gradebook (the grades' and the submission times'; never a penalty) with its
    students."""
    students = defaultdict(list)
    for row in rows:
        for flag in row.flags:
            students[flag].append(row.student)
    return tuple((flag, tuple(names)) for flag, names in sorted(students.items()))


def histogram(totals: list[float]) -> tuple[int, ...]:
    counts = [0] * BINS
    for total in totals:
        counts[min(int(total * BINS // max(rubric.TOTAL_POINTS, 1)), BINS - 1)] += 1
    return tuple(counts)



def href(student: str) -> str:
    """The link from index.html to a student's feedback page (names may hold spaces, '#', '?')."""
    return f"{quote(student, safe='')}/{FEEDBACK_PAGE}"


def write_dashboard(out: Path, rows: list[Row], late: bool) -> None:
    """OUT/index.html, and OUT/<student>/feedback.html from each graded student's feedback.md."""
    for row in rows:
        if row.grade is not None and (out / row.student / "feedback.md").is_file():
            write_atomically(out / row.student / FEEDBACK_PAGE,
                             feedback_page(row.student, out / row.student))
    page = build_page(rows)
    index = _templates.get_template("dashboard.html").render(
        page=page, late=late, regrades=read_regrade(out), regrade_file=REGRADE, generator=GENERATOR,
        href=href, script=markupsafe.Markup(_SCRIPT), script_hash=_SCRIPT_HASH,
        task_points=rubric.TOTAL_POINTS, bins=BINS, has_feedback=lambda row:
        (out / row.student / FEEDBACK_PAGE).is_file())
    write_atomically(out / INDEX, index)


def feedback_page(student: str, folder: Path) -> str:
    body = _markdown((folder / "feedback.md").read_text(encoding="utf-8"))
    return _templates.get_template("feedback.html").render(student=student, body=body,
                                                           generator=GENERATOR)


def is_dashboard_page(path: Path) -> bool:
    """Whether `path` is a page this module wrote (which a new run may replace)."""
    try:
        return f'<meta name="generator" content="{GENERATOR}">' in path.read_text(
            errors="replace")[:2000]
    except OSError:
        return False
