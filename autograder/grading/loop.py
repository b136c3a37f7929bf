"""Grading one submission: `grade(path)`, the Python API under `mgkit grade`.

    results = grade(Path("alice"))          # a folder or a notebook; a fresh random seed
    results = grade(Path("alice"), seed=7)  # the same seed reproduces a grade exactly
    results.write(Path("results.json"))

1) read the submission's three modules and copy them into a private folder;
2) for each task, run its observation in the sandbox (one fresh worker per task), and
3) judge it here, in the parent, from the seed and what the worker reported.
Whatever the submission does, every task gets a result. If the grader itself fails (its
sandbox, or the kit's own judging: a GraderError), the result says "not graded" with every task
at 0 and the reason, rather than nothing and never as the student's mistake.

The loop reads what it needs of the tasks from where they are defined: the judging order from
mgkit_checks.tasks (each definition's needs), what each task's worker imports and the judge
from grading/judge.py.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import secrets
import time
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import mgkit_checks
from mgkit_checks import tasks as definitions
from mgkit_checks.core import JudgeError, Verdict
from mgkit_checks.course import in_use

from .. import sandboxed
from ..reference import rubric, solution
from ..reference.markers import find_regions
from ..reference.solution import MODULES
from ..sandbox import DEFAULT_LIMITS, Entry, Limits
from . import judge, outcomes
from .outcomes import Failure, Observation, Outcome
from .results import GradingResults
from .submission import Submission, load, private_copy
from .worker import ENTRY, ImportFailure, TaskSandbox

SEED_RANGE = 10**6  # a fresh seed per run, short enough to type after --seed
# a secret line at least this long is redacted from feedback ("self.grad += out.grad")
SECRET_CHARS = 16


class GraderError(Exception):
    """The kit failed while grading (never the student): the grade is recorded as not graded, with
    why."""


def grade(path: Path | Submission, seed: int | None = None, *, entry: str = ENTRY,
          limits: Limits = DEFAULT_LIMITS, sandbox: TaskSandbox | None = None,
          scratch: Path | None = None) -> GradingResults:
    """Grade the submission at `path` (or one already read); SubmissionError (a ValueError) only if
    it is not one.

    `sandbox` lets a caller grading many submissions keep one zygote; otherwise one is started
    for this grade, its workers running `entry` (a test's fake names its own; the judge is the
    kit's). `scratch` is where the private copy goes (a class run's own folder), else the temporary
    folder.
    """
    started = time.perf_counter()
    seed = secrets.randbelow(SEED_RANGE) if seed is None else seed
    submission = path if isinstance(path, Submission) else load(path)
    own_sandbox = sandbox is None
    # a worker of this sandbox sees the submission's folder, and its neighbours (other students?),
    # as empty: where it is listed, and where a link to it leads
    hide = [Path(os.path.realpath(path.absolute().parent)), path.resolve().parent] \
        if isinstance(path, Path) else []
    sandbox = sandbox or TaskSandbox(limits, entry, hide=hide)
    try:
        return _grade(submission, seed, sandbox, started, scratch)
    except Exception as error:  # noqa: BLE001 - boundary of one grade: whatever broke is the kit's (CONTRACT §4),
        # recorded as not graded with the reason, never as a score or as the student's mistake
        return GradingResults.not_graded(f"{type(error).__name__}: {error}", seed,
                                         time.perf_counter() - started, submission.notes)
    finally:
        if own_sandbox:
            sandbox.close()


def _grade(submission: Submission, seed: int, sandbox: TaskSandbox, started: float,
           scratch: Path | None) -> GradingResults:
    hidden = secret_lines()  # read before any student code runs, which might rewrite the files
    with private_copy(submission, scratch) as folder:
        verdicts = judge_all(sandbox, folder, seed, hidden)
    tasks = tuple(judge.task_result(verdicts[task.id], float(task.points)) for task in rubric.TASKS)
    return GradingResults(tasks, seed, time.perf_counter() - started, submission.notes,
                          isolation=sandbox.isolation, flags=submission.flags)


def judge_all(sandbox: TaskSandbox, folder: Path, seed: int, hidden: frozenset[str] = frozenset(),
              tasks: tuple[str, ...] | None = None) -> dict[str, Verdict]:
    """Each task's verdict (or the grader's Failure), task by task in the checks' judging order.

    Each task runs in its own worker, told which tasks passed before it: the cases that run
    their code run now, the others wait, on both sides alike. When importing the student's
    files hangs or crashes (an infinite loop at the top of engine.py, say), the other tasks
    that import the same fail alike without being run: one deadline, not one per task.
    `tasks` limits the run to some tasks (and those they lean on come first in the order).
    GraderError when the kit cannot judge: its worker process failed, or its judge broke.
    """
    stuck: dict[str, Failure] = {}  # what tasks import -> how importing it failed
    verdicts: dict[str, Verdict] = {}
    for task_id in definitions.judging_order(in_use()):
        if tasks is not None and task_id not in tasks:
            continue
        files = judge.imports_of(task_id)
        passed = [task for task, verdict in verdicts.items() if verdict.passed]
        outcome = stuck.get(files) or sandbox.run(folder, task_id, seed, passed)
        if isinstance(outcome, ImportFailure) and files not in stuck:
            outcome = stuck[files] = ImportFailure(
                outcome.kind, f"while importing {files}, {outcome.detail};"
                " the tasks that import it were not run again")
        # the kit failed, not the student
        if isinstance(outcome, Failure) and outcome.kind == "grader":
            raise GraderError(f"{task_id}: {outcome.detail}")
        try:
            verdicts[task_id] = judge.judge_task(task_id, seed, redact_outcome(outcome, hidden),
                                                 verdicts)
        except JudgeError as error:
            raise GraderError(f"the kit's judge of {task_id} failed: {error}") from error
    return verdicts


def redact_outcome(outcome: Outcome, secrets: frozenset[str]) -> Outcome:
    """The outcome with every text the student's code wrote (messages, type names) redacted.

    Only those: the kit's own words (its advice) are composed after, and never cut.
    """
    if isinstance(outcome, Failure):
        return replace(outcome, detail=redact(outcome.detail, secrets))
    return Observation(_redacted(outcome.data, secrets))


def _redacted(data: Any, secrets: frozenset[str]) -> Any:
    if isinstance(data, str):
        return redact(data, secrets)
    if isinstance(data, list):
        return [_redacted(item, secrets) for item in data]
    if isinstance(data, dict):
        return {key: _redacted(value, secrets) for key, value in data.items()}
    return data


SHARED_CHECKS_DIR = Path(mgkit_checks.__file__).parent


def checks_fingerprint(entry: str = ENTRY) -> str:
    """A hash of what decides a grade besides the submission and the seed: the source files of
    the workers' entry (for the kit's, all of autograder/sandboxed/), the judge (grading/judge.py),
    the shared checks and the rubric. A class run regrades every result made under another
    fingerprint.

    The one place that knows which files those are: a checks package moved or added goes here.
    """
    named = Entry.named(entry)
    if named.file:  # a test's fake: its one file
        files = [Path(named.file)]
    else:
        spec = importlib.util.find_spec(HIDDEN_CHECKS if entry == ENTRY else named.module)
        if spec is None or spec.origin is None:
            raise ModuleNotFoundError(f"no entry module named {named.module}")
        origin = Path(spec.origin)
        files = sorted(origin.parent.rglob("*.py")) if spec.submodule_search_locations else [origin]
    shared = sorted(SHARED_CHECKS_DIR.glob("*.py"))  # the definitions every task is judged by
    # the rubric, the forward passes
    course = [in_use().path, solution.REFERENCE_PACKAGE_DIR / "engine.py"]
    digest = hashlib.sha256()
    for path in [*files, *JUDGE_FILES, *shared, *course]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


# never shipped: the grade's harness, traversal and trusted engine
HIDDEN_CHECKS = sandboxed.__name__
# never shipped: the judge half
JUDGE_FILES = tuple(Path(module.__file__) for module in (judge, outcomes))


def secret_lines() -> frozenset[str]:
    """Lines feedback must never show: the reference's solutions and the checks never shipped.

    Feedback quotes what the student's code said (an exception's message, say), and that code
    may have read or rebuilt them. Short lines (`return out`) give nothing away and stay.
    """
    return _secret_lines(solution.REFERENCE_PACKAGE_DIR)


@cache
def _secret_lines(reference: Path) -> frozenset[str]:
    hidden = [
        path.read_text()
        for path in [*sorted(Path(sandboxed.__file__).parent.glob("*.py")), *JUDGE_FILES]
    ]
    solutions = []
    for module in MODULES:
        path = reference / f"{module}.py"
        lines = path.read_text().splitlines()
        solutions += [
            line for region in find_regions(path) for line in lines[region.begin:region.end - 1]
        ]
    lines = (line.strip() for text in hidden for line in text.splitlines())
    return frozenset(line for line in (*lines, *(line.strip() for line in solutions))
                     if len(line) >= SECRET_CHARS)


def redact(text: str, secrets: frozenset[str]) -> str:
    """`text` with every secret line in it replaced by a mark, however its spaces were changed."""
    return _secret_pattern(secrets).sub("[hidden]", text) if secrets else text


@cache
def _secret_pattern(secrets: frozenset[str]) -> re.Pattern[str]:
    # feedback folds a quoted message onto one line: match a secret line with any run of spaces
    # the longest first, so no shorter one cuts it up
    lines = sorted(secrets, key=len, reverse=True)
    return re.compile("|".join(r"\s+".join(map(re.escape, line.split())) for line in lines))
