"""What a task's definition is made of, and the one set of rules that turns reports into a verdict.

A task is defined once (ops.py, backward.py, training.py): its cases, made from a seed; what is
observed of the student's code for each case (plain numbers); how each report is judged; and
its diagnoses. Two sides run the same definitions:

- the grade (`mgkit grade`): a secret seed; observations in a sandboxed worker; verdicts in the
  trusted parent, from the plain numbers alone;
- the preview (the student's `pytest`, the notebook's check cells): the public seed, in the
  student's own process.

Where the two sides must run the student's code differently, `Harness` names the difference;
it is the only one.
"""

from __future__ import annotations

import os
import random
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from . import rubric

DEFAULT_SECONDS = 5.0  # a task's time, unless its definition says more
PUBLIC_SEED = 2026  # the preview's cases; the grade draws a fresh secret seed

PASSED, FAILED, WAITING, UNDECIDED = "passed", "failed", "waiting", "decided by the grade"
# the case ran but cannot tell (a closure that added nothing): it neither earns nor costs
NO_EVIDENCE = "no evidence"


@dataclass(frozen=True)
class Diagnosis:
    """A likely mistake: a stable id ("mul_backward/swapped_operands") and what the student
    reads."""

    id: str
    advice: str


@dataclass(frozen=True)
class Check:
    """One case, judged: what it tried, how it came out, and why."""

    label: str
    # PASSED, FAILED, WAITING (it runs a task that fails) or UNDECIDED (the preview cannot judge it)
    state: str
    message: str = ""  # for FAILED: what was tried, what came back, what was expected
    diagnoses: tuple[Diagnosis, ...] = ()  # mistakes whose numbers match, most specific first
    waits_for: tuple[str, ...] = ()
    # what was tried, as plain data (a notebook draws a failed op's graph from it)
    case: dict | None = None


LENT = "judged_for"  # a case's key: a case of one task's worker whose check counts for another task


@dataclass(frozen=True)
class Verdict:
    """A task's verdict: PASSED, FAILED, or (the preview only) UNDECIDED."""

    task_id: str
    state: str
    checks: tuple[Check, ...]
    feedback: str  # for the student: what failed and what to do, or what passed and what waits
    diagnosis: Diagnosis | None = None  # the likely mistake, when the task failed
    lent: tuple[Check, ...] = ()  # checks its cases made for a later task (case[LENT]), not its own

    @property
    def passed(self) -> bool:
        return self.state == PASSED


@dataclass(frozen=True)
class Definition:
    """One graded task, as both sides run it."""

    task_id: str
    make_cases: Callable[[random.Random], list[dict]]
    # runs the student's code; plain numbers out; never judges
    observe: Callable[[dict, Harness], dict]
    # one case and its report; runs where the verdict is decided
    judge: Callable[[dict, dict], Check]
    code: str  # where the student's code of this task is, for a hang: "`__mul__`'s `_backward`"
    imports: tuple[str, ...] = ("engine",)  # the student's modules the task runs
    # a classic mistake behind an error
    explain_error: Callable[[str], Diagnosis | None] = lambda error: None
    needs: tuple[str, ...] = ()  # the tasks whose code its cases run: it is judged after them
    seconds: float = DEFAULT_SECONDS  # its time on either side, its imports included
    parts: tuple[str, ...] = ("traversal",)  # the grade's own code its worker loads (sandboxed/)
    trains: bool = False  # training a model on the student's engine runs this task's code

    @property
    def on_kit_engine(self) -> bool:
        """The grade runs it on its trusted engine, never the student's (see Harness)."""
        return "trusted" in self.parts


@dataclass
class Harness:
    """How a side runs the student's code: the only place where the preview and the grade differ.

    | what         | the grade (autograder/sandboxed/harness.py) | the preview (preview.py)        |
    | ------------ | ------------------------------------------- | ------------------------------- |
    | op closures  | `run_closures` is the kit's traversal,      | newest node first, no sort      |
    |              | which follows any graph                     | shipped: an op built from other |
    |              |                                             | ops is decided by the grade     |
    | nn and train | a trusted engine (`Value`), never the       | the student's own engine: those |
    |              | student's: engine bugs cannot reach them    | cases wait for `engine_tasks`   |
    |              |                                             | (their own checks first)        |

    `grad_of(p)` is a parameter's gradient as its last backward pass left it (a loop may zero
    .grad after the update).
    """

    Value: type
    nn: Any = None
    train: Any = None
    run_closures: Callable[[Any, float, list], None] | None = None
    grad_of: Callable[[Any], Any] = lambda p: p.grad
    engine_tasks: tuple[str, ...] = ()
    reraise: tuple[type[BaseException], ...] = ()  # what observe must not swallow (a real Ctrl-C)


class JudgeError(Exception):
    """The kit's own judge broke on a case: a grader error for the instructor, never the student's
    mistake."""


class BuiltFromOtherOps(Exception):
    """An op of the student's is built from other ops: only a full traversal can follow it."""


def case_rng(task_id: str, seed: int) -> random.Random:
    return random.Random(f"{seed}:{task_id}")


def waits_for(case: dict, passed: set[str] | frozenset[str],
              harness_engine_tasks: tuple[str, ...]) -> list[str]:
    """The tasks a case runs the code of that have not passed: it runs only once none is left."""
    needed = [*case.get("needs", ()), *(harness_engine_tasks if case.get("engine") else ())]
    return [task for task in dict.fromkeys(needed) if task not in passed]


def observe_cases(definition: Definition, cases: list[dict], harness: Harness,
                  passed: frozenset[str]) -> list:
    """Run each case whose tasks have passed; its report, or None for a case that waits."""
    reports: list[dict | None] = []
    for case in cases:
        if waits_for(case, passed, harness.engine_tasks):
            reports.append(None)
            continue
        try:
            reports.append(definition.observe(case, harness))
        except BuiltFromOtherOps as error:
            reports.append({"undecided": str(error)})
        except harness.reraise:
            raise
        except BaseException as error:  # the student's code may raise anything, SystemExit included
            reports.append({"error": describe(error), "where": where(error)})
    return reports


def where(error: BaseException) -> str:
    """Where in the student's files the error happened ("engine.py, line 76"), or ""."""
    if isinstance(error, SyntaxError) and error.filename:
        return f"{os.path.basename(error.filename)}, line {error.lineno}"
    frames = [frame for frame in traceback.extract_tb(error.__traceback__)
              # the student's package
              if os.path.basename(os.path.dirname(frame.filename)) == "micrograd"]
    return f"{os.path.basename(frames[-1].filename)}, line {frames[-1].lineno}" if frames else ""


def hang_message(definition: Definition, within: str, importing: str = "") -> Check:
    """The check of a task that did not finish `within` ("in 5 s"): the same words on both sides.
    `importing`: the files whose import never ended, when it was the import that hung."""
    task_id = definition.task_id
    if importing:
        diagnosis = Diagnosis(f"{task_id}/hangs_at_import",
                              f"look for a loop that never ends at the top level of {importing}: "
                              "code outside any function runs when the file is imported.")
    else:
        diagnosis = Diagnosis(f"{task_id}/hangs",
                              f"look for a loop that never ends in {definition.code}.")
    return Check("the code finished", FAILED, f"{task_id} did not finish {within}", (diagnosis,))


def describe(error: BaseException) -> str:
    try:
        text = str(error)
    except BaseException:  # an exception whose __str__ raises
        text = "(its message could not be read)"
    name = type(error).__name__
    return f"{name if type(name) is str else 'Exception'}: {text}"[:500]


# ---- from reports to a verdict: the same rules on both sides -------------------------------


def judge_cases(definition: Definition, cases: list[dict], reports: list,
                earlier: dict[str, Verdict], engine_tasks: tuple[str, ...] = ()) -> Verdict:
    """The task's verdict from each case's report; `earlier` holds the verdicts of the tasks judged
    before.

    A case marked for a later task (an op's closure run from a nonzero .grad, for
    grad_accumulation) is judged here, where its report is, and lent to that task: so each
    closure the student wrote is judged for accumulation in the worker that runs it anyway."""
    passed = frozenset(task for task, verdict in earlier.items() if verdict.passed)
    checks = [replace(_check(definition, case, report, earlier, passed, engine_tasks), case=case)
              for case, report in zip(cases, reports)]
    if len(reports) != len(cases):
        checks.append(
            Check("the report", FAILED, "the grader received no usable report for this task"))
    own = [check for check in checks if not _lent_to(check)]
    borrowed = [check for verdict in earlier.values() for check in getattr(verdict, "lent", ())
                if _lent_to(check) == definition.task_id]
    result = verdict(definition.task_id, [*borrowed, *own])
    return replace(result, lent=_lend(definition, own,
                                      [check for check in checks if _lent_to(check)]))


def unreported(definition: Definition, cases: list[dict], check: Check) -> Verdict:
    """The verdict of a task whose code gave no report (it hung, crashed, exited or ate memory):
    `check` says why. What it would have lent a later task fails there too, since that code showed
    nothing."""
    unseen = [
        Check(
            case["label"], FAILED,
            f"{definition.code} did not run to its end, so whether it adds to "
            f".grad could not be seen ({definition.task_id} says why)", (_unseen(case), ),
            case=case) for case in cases if case.get(LENT)
    ]
    return replace(verdict(definition.task_id, [check]), lent=_lend(definition, [check], unseen))


def _lent_to(check: Check) -> str:
    return check.case.get(LENT, "") if check.case else ""


UNWRITTEN = ("/not_written", "/missing_op")  # an op's own diagnoses when there is nothing of it yet


def _lend(definition: Definition, own: list[Check], lent: list[Check]) -> tuple[Check, ...]:
    """What a task's cases lend later tasks: the checks made for them, judged on all the code the
    student wrote.

    Code not written yet (every case of its own task met the stub's NotImplementedError, or an op
    the engine lacks) lends nothing: it costs its own task only. It is judged by what it does, so a
    `raise NotImplementedError` of the student's own counts only where it costs the whole task, as
    the stub does. Written code lends a failure for every check it could not be seen in (it raised,
    gave no numbers), and one more when it added nothing in any: a later task is earned only on
    evidence from every piece of code the student wrote."""
    if not lent or all(
            check.state == FAILED and check.diagnoses and check.diagnoses[0].id.endswith(UNWRITTEN)
            for check in own):
        return ()
    if all(check.state == NO_EVIDENCE for check in lent):
        first = lent[0]
        diagnosis = Diagnosis(f"{_lent_to(first)}/nothing_to_judge", NOTHING_ADVICE)
        return (*lent, Check(first.label, FAILED,
                             f"{definition.code} added nothing to any .grad, so whether it adds "
                             "to .grad could not be seen", (diagnosis,), case=first.case))
    return tuple(lent)


NOTHING_ADVICE = (
    "every _backward you wrote is judged: make each one add its part to .grad, with +=."
)
UNSEEN_ADVICE = (
    "every _backward you wrote is judged: make each one run to its end and add numbers to .grad, "
    "with +=.")


def _unseen(case: dict) -> Diagnosis:
    return Diagnosis(f"{case[LENT]}/unseen", UNSEEN_ADVICE)


def lent_unseen(code: str, case: dict, why: str) -> Check:
    """A check lent to a later task by `code` that could not show it anything: `why` ("raised
    ...")."""
    return Check(case["label"], FAILED,
                 f"{code} {why}, so whether it adds to .grad could not be seen", (_unseen(case), ))


def _check(definition: Definition, case: dict, report: Any, earlier: dict[str, Verdict],
           passed: frozenset[str], engine_tasks: tuple[str, ...]) -> Check:
    label = case["label"]
    waiting = waits_for(case, passed, engine_tasks)
    if waiting:
        # waiting on a task the preview cannot judge, or on the student's engine (the grade uses its
        # own)
        undecided = any(earlier.get(task) and earlier[task].state == UNDECIDED for task in waiting)
        engine_only = not [task for task in case.get("needs", ()) if task in waiting]
        return Check(label, UNDECIDED if undecided or engine_only else WAITING,
                     waits_for=tuple(waiting))
    if not isinstance(report, dict):
        return Check(label, FAILED, "no usable report for this case")
    if "undecided" in report:
        return Check(label, UNDECIDED, str(report["undecided"]))
    # code that did not run to its end shows nothing of the later task
    if "error" in report and case.get(LENT):
        error = str(report["error"])
        return lent_unseen(definition.code, case,
                           f"raised {error}{_at(error, str(report.get('where') or ''))}")
    if "error" in report:
        return raised(definition, label, str(report["error"]), str(report.get("where") or ""))
    try:
        return definition.judge(case, report)
    # the kit's bug, not theirs
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as error:
        raise JudgeError(
            f"{definition.task_id}, {label}: {type(error).__name__}: {error}") from error


STUB = "NotImplementedError"


def raised(definition: Definition, label: str, error: str, location: str = "") -> Check:
    """The check of a case whose code raised: an untouched stub says what to write."""
    task_id = definition.task_id
    at = _at(error, location)
    name, _, message = error.partition(": ")
    if name == STUB:
        stub_of, _, hint = message.partition(": ")  # the kit's stubs say "<task_id>: <hint>"
        # nbgrader's stubs say nothing: this task's hint
        task = rubric.BY_ID.get(stub_of) or rubric.BY_ID[task_id]
        advice = hint if stub_of in rubric.BY_ID and hint else task.hint
        return Check(label, FAILED, f"not written yet{at}: {advice}",
                     (Diagnosis(f"{task_id}/not_written", advice), ))
    known = definition.explain_error(error)
    return Check(label, FAILED, f"your code raised {error}{at}",
                 (known or Diagnosis(f"{task_id}/raised", ""), ))


def _at(error: str, location: str) -> str:
    """" (engine.py, line 76)" after an error's text, unless it names its line itself (a SyntaxError
    does)."""
    return f" ({location})" if location and location not in error else ""


def verdict(task_id: str, checks: list[Check]) -> Verdict:
    """The rules: any failure fails; an undecided check (the preview only) leaves the task to the
    grade; a task is earned only on evidence, so with every check waiting there is nothing to earn
    yet."""
    checks = [check for check in checks if check.state != NO_EVIDENCE]
    failed = [check for check in checks if check.state == FAILED]
    undecided = [check for check in checks if check.state == UNDECIDED]
    done = [check for check in checks if check.state == PASSED]
    waiting = [check for check in checks if check.state == WAITING]
    if failed:
        # no classic mistake fits
        diagnosis = _common_diagnosis(failed) or Diagnosis(f"{task_id}/unexplained", "")
        return Verdict(task_id, FAILED, tuple(checks), _failed_feedback(checks, failed, diagnosis),
                       diagnosis)
    if undecided:
        return Verdict(task_id, UNDECIDED, tuple(checks), _undecided_feedback(undecided))
    if not done:
        tasks = _names(task for check in waiting for task in check.waits_for)
        if not tasks:  # every case ran and none could tell: the code changed no gradient
            return Verdict(
                task_id, FAILED, tuple(checks),
                f"Nothing to judge yet: the code {task_id} runs added "
                "nothing to any .grad, so there was nothing to add up.",
                Diagnosis(f"{task_id}/nothing_to_judge", "write the _backward closures first"))
        return Verdict(
            task_id,
            FAILED,
            tuple(checks),
            f"Nothing to judge yet: every check of {task_id} runs code of {tasks}, which must pass"
            " first.",
            Diagnosis(f"{task_id}/nothing_to_judge", f"write and fix {tasks} first"),
        )
    return Verdict(task_id, PASSED, tuple(checks), _passed_feedback(done, waiting))


def _passed_feedback(done: list[Check], waiting: list[Check]) -> str:
    passed = f"Passed all {len(done)} checks" if len(done) > 1 else "Passed its one check"
    if not waiting:
        return f"{passed}."
    tasks = list(dict.fromkeys(task for check in waiting for task in check.waits_for))
    return (
        f"{passed}; {_count(waiting)} {'waits' if len(waiting) == 1 else 'wait'} for"
        f" {_names(tasks)} and will be judged once"
        f" {'it passes' if len(tasks) == 1 else 'they pass'}."
    )


def _common_diagnosis(failed: list[Check]) -> Diagnosis | None:
    """The mistake that explains every failed check, else the first check's most specific one."""
    named = [check.diagnoses for check in failed if check.diagnoses]
    if not named:
        return None
    for candidate in named[0]:
        if all(any(other.id == candidate.id for other in diagnoses) for diagnoses in named):
            return candidate
    return named[0][0]


def _failed_feedback(checks: list[Check], failed: list[Check], diagnosis: Diagnosis | None) -> str:
    first = failed[0].message
    if diagnosis and diagnosis.id.endswith("/not_written"):
        return f"{first[:1].upper()}{first[1:]}".rstrip(".") + "."  # what to write, and where
    if diagnosis and diagnosis.id.endswith(("/hangs", "/hangs_at_import")):
        return f"{first}: {diagnosis.advice}"  # one line: which task, how long, where to look
    text = f"Failed {len(failed)} of {_count(checks)}: {first[:1].lower()}{first[1:]}"
    text = text.rstrip(".") + "."
    if diagnosis and diagnosis.advice:
        text += f" Likely mistake: {diagnosis.advice}"
    return text


def _undecided_feedback(undecided: list[Check]) -> str:
    waiting = _names(task for check in undecided for task in check.waits_for)
    if waiting:
        verb = "waits" if len(undecided) == 1 else "wait"
        return (
            f"Decided by the grade: {_count(undecided)} {verb} for {waiting}, which must pass here"
            " first (this preview runs your own engine; the grade does not)."
        )
    return f"Decided by the grade: {undecided[0].message}"


def _count(checks: list) -> str:
    return f"{len(checks)} check{'s' * (len(checks) != 1)}"


def _names(tasks) -> str:
    return ", ".join(dict.fromkeys(tasks))
