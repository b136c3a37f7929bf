"""Grading one submission: `grade(path)`, the Python API under `mgkit grade`.

    results = grade(Path("alice"))          # a folder or a notebook; a fresh random seed
    results = grade(Path("alice"), seed=7)  # the same seed reproduces a grade exactly
    results.write(Path("results.json"))

1) read the submission's three modules and copy them into a private folder;
2) run every task's observation in the sandbox (one fresh worker per task);
3) judge here, in the parent, from the seed and what the workers reported.
Whatever the submission does, every task gets a result. If the grader itself fails, the result
says "not graded" with every task at 0, rather than nothing.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import secrets
import time
from dataclasses import replace
from functools import cache
from pathlib import Path
from types import ModuleType

from .checks.api import Failure, Outcome
from .markers import find_regions
from .reference import MODULES, REFERENCE_PACKAGE_DIR
from .results import GradingResults
from .rubric import TASK_IDS
from .sandbox import DEFAULT_LIMITS, ImportFailure, Limits, Sandbox
from .submission import Submission, load, private_copy

SEED_RANGE = 10**6  # a fresh seed per run, short enough to type after --seed
SECRET_CHARS = 16  # a secret line at least this long is redacted from feedback ("self.grad += out.grad")


def grade(path: Path, seed: int | None = None, *, checks: ModuleType | None = None, limits: Limits = DEFAULT_LIMITS,
          sandbox: Sandbox | None = None) -> GradingResults:
    """Grade the submission at `path`; SubmissionError (a ValueError) only if it is not a submission.

    `sandbox` lets a caller grading many submissions keep one zygote (its checks are used);
    otherwise one is started for this grade with `checks` (default: the kit's hidden checks).
    """
    started = time.perf_counter()
    seed = secrets.randbelow(SEED_RANGE) if seed is None else seed
    submission = load(path)
    own_sandbox = sandbox is None
    # a worker of this sandbox sees the submission's folder, and its neighbours (other students?), as empty
    sandbox = sandbox or Sandbox(checks or "autograder.checks", limits, hide=[path.resolve().parent])
    try:
        return _grade(submission, seed, sandbox, started)
    except Exception as error:  # the grader failed, not the student: fail closed and say so
        return GradingResults.not_graded(f"{type(error).__name__}: {error}", seed,
                                         time.perf_counter() - started, submission.notes)
    finally:
        if own_sandbox:
            sandbox.close()


def _grade(submission: Submission, seed: int, sandbox: Sandbox, started: float) -> GradingResults:
    hidden = secret_lines(sandbox.checks)  # read before any student code runs, which might rewrite the files
    with private_copy(submission) as folder:
        outcomes = observe_all(sandbox, folder, seed)
    verdicts = sandbox.checks.judge(seed, outcomes)  # in the parent, from plain numbers only
    verdicts = tuple(replace(verdict, feedback=redact(verdict.feedback, hidden)) for verdict in verdicts)
    return GradingResults(verdicts, seed, time.perf_counter() - started, submission.notes,
                          isolation=sandbox.isolation, flags=submission.flags)


def observe_all(sandbox: Sandbox, folder: Path, seed: int) -> dict[str, Outcome]:
    """Every task's outcome, in rubric order, each from its own worker.

    When importing the student's files hangs or crashes (an infinite loop at the top of
    engine.py, say), the other tasks that import the same fail alike without being run:
    one deadline for the submission, not one per task.
    """
    imports = getattr(sandbox.checks, "IMPORTS", {})
    stuck: dict[str, Failure] = {}  # what tasks import -> how importing it failed
    outcomes = {}
    for task_id in TASK_IDS:
        files = imports.get(task_id, task_id)
        outcome = stuck.get(files) or sandbox.run(folder, task_id, seed)
        if isinstance(outcome, ImportFailure) and files not in stuck:
            outcome = stuck[files] = ImportFailure(outcome.kind, f"while importing {files}, {outcome.detail};"
                                                                 " the tasks that import it were not run again")
        outcomes[task_id] = outcome
    return outcomes


RUBRIC_FILE = Path(__file__).with_name("rubric.py")


def checks_fingerprint(checks: str = "autograder.checks") -> str:
    """A hash of what decides a grade besides the submission and the seed: the checks' source
    files and the rubric. A class run regrades every result made under another fingerprint.

    The one place that knows which files those are: a checks package moved or added goes here.
    """
    spec = importlib.util.find_spec(checks)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(f"no checks module named {checks}")
    origin = Path(spec.origin)
    files = sorted(origin.parent.rglob("*.py")) if spec.submodule_search_locations else [origin]
    digest = hashlib.sha256()
    for path in [*files, RUBRIC_FILE]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


@cache
def secret_lines(checks: ModuleType) -> frozenset[str]:
    """Lines feedback must never show: the reference's solutions and the checks never shipped.

    Feedback quotes what the student's code said (an exception's message, say), and that code
    may have read or rebuilt them. Short lines (`return out`) give nothing away and stay.
    """
    shipped = set(getattr(checks, "SHIPPED", ()))
    files = Path(checks.__file__).parent.glob("*.py") if hasattr(checks, "__path__") else [Path(checks.__file__)]
    hidden = [path.read_text() for path in files if path.name not in shipped]
    solutions = []
    for module in MODULES:
        path = REFERENCE_PACKAGE_DIR / f"{module}.py"
        lines = path.read_text().splitlines()
        solutions += [line for region in find_regions(path) for line in lines[region.begin : region.end - 1]]
    lines = (line.strip() for text in hidden for line in text.splitlines())
    return frozenset(line for line in (*lines, *(line.strip() for line in solutions)) if len(line) >= SECRET_CHARS)


def redact(text: str, secrets: frozenset[str]) -> str:
    """`text` with every secret line in it replaced by a mark, however its spaces were changed."""
    return _secret_pattern(secrets).sub("[hidden]", text) if secrets else text


@cache
def _secret_pattern(secrets: frozenset[str]) -> re.Pattern[str]:
    # feedback folds a quoted message onto one line: match a secret line with any run of spaces
    lines = sorted(secrets, key=len, reverse=True)  # the longest first, so no shorter one cuts it up
    return re.compile("|".join(r"\s+".join(map(re.escape, line.split())) for line in lines))
