"""One task in a sandboxed worker: the request the entry point gets, its deadline, its facts read as
an Outcome.

    with TaskSandbox(limits) as sandbox:
        outcome = sandbox.run(folder, "mul_backward", seed, passed)   # an Observation or a Failure

The sandbox (autograder/sandbox/) runs a named entry point and hands back how the worker ended;
this is where the grade gives those facts their meaning: a clean exit with a well-formed report
is an Observation, anything else a Failure of a kind the checks turn into feedback. A worker
stopped before its imports were done gives an ImportFailure, so the loop need not run the other
tasks that import the same.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mgkit_checks.course import Course, in_use
from mgkit_checks.tasks import seconds_for

from ..sandbox import DEFAULT_LIMITS, Facts, Limits, Sandbox, WorkerLost
from ..sandboxed.entry import SLOW_IMPORT
from .outcomes import Failure, Observation, Outcome

ENTRY = "autograder.sandboxed.entry:run"  # what every grading worker runs: the checks' worker side
DETAIL_CHARS = 300  # an exception message in feedback: enough to recognise, short enough to read


@dataclass(frozen=True)
class ImportFailure(Failure):
    """A worker stopped before its task's imports were done: the import itself hangs, crashes or
    floods."""


class TaskSandbox:
    """A Sandbox whose workers run one task each: `run(folder, task_id, seed, passed) -> Outcome`.

    `entry` is the worker's entry point (a test's fake names its own); everything else is the
    Sandbox's.
    """

    def __init__(self, limits: Limits = DEFAULT_LIMITS, entry: str = ENTRY,
                 course: Course | None = None, **options):
        # the zygote's environment is emptied: it is told the course its workers judge by (the
        # course in use unless given), and finds nothing of its own
        self.course = course or in_use()
        self.sandbox = Sandbox(entry, limits, env={"MGKIT_COURSE": str(self.course.path)},
                               **options)
        self.limits = limits

    def __enter__(self) -> TaskSandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def isolation(self) -> tuple[str, ...]:
        return self.sandbox.isolation

    def start(self) -> None:
        self.sandbox.start()

    def close(self) -> None:
        self.sandbox.close()

    def run(self, folder: Path, task_id: str, seed: int, passed: Sequence[str] = ()) -> Outcome:
        """The task's observation of the package in `folder`, or how its worker failed.

        `passed` names the tasks that passed so far: the cases that run their code run now.
        """
        seconds = self.seconds_for(task_id)
        args = {"task": task_id, "seed": seed, "passed": list(passed), "seconds": seconds}
        try:
            facts = self.sandbox.run(folder, args, seconds)
        except WorkerLost as error:
            return Failure("grader", str(error))
        return outcome_of(facts, self.limits, seconds)

    def seconds_for(self, task_id: str) -> float:
        """The task's wall-clock budget: the limits' own, else the one the preview gives it too."""
        return self.limits.seconds if self.limits.seconds is not None else seconds_for(task_id)


def outcome_of(facts: Facts, limits: Limits, seconds: float) -> Outcome:
    """An Observation only for a clean exit with a well-formed report; a Failure for anything else.

    A worker stopped (hung, killed, flooding, exiting) before it got past its imports gives an
    ImportFailure: every task that imports the same would stop alike.
    """
    stopped = _stopped(facts, limits, seconds)
    if stopped is None:
        outcome = _report_outcome(_parse(facts.report))
        if not (isinstance(outcome, Failure) and outcome.kind == "timeout"):
            return outcome
        stopped = outcome  # the worker reported that its imports used up its time
    return stopped if facts.imported else ImportFailure(stopped.kind, stopped.detail)


def _stopped(facts: Facts, limits: Limits, seconds: float) -> Failure | None:
    """How the worker was stopped, or None if it exited with a report."""
    number = facts.signal
    if facts.output_bytes >= limits.output_bytes or number == signal.SIGXFSZ:
        return Failure("output", f"it printed {limits.output_bytes:,} bytes or more, the limit")
    if facts.timed_out or number == signal.SIGXCPU:
        return Failure("timeout", f"no answer within {seconds:g} s")
    if facts.report_too_big:
        return Failure("error", f"its report was larger than {limits.report_bytes:,} bytes")
    if number:
        return Failure("crash", f"the process was killed by {_signal_name(number)}")
    if not facts.report:
        code = facts.exit_code
        return Failure(
            "crash", f"the process exited before reporting{f' (exit code {code})' if code else ''}:"
            " sys.exit or os._exit?")
    return None


def _report_outcome(report: dict[str, Any] | None) -> Outcome:
    if report is None:
        return Failure("error", "the worker's report was not valid JSON")
    if set(report) == {"observation"} and isinstance(report["observation"], dict):
        return Observation(report["observation"])
    if set(report) == {"raised", "message"} and all(isinstance(report[key], str) for key in report):
        # the worker's own word that its imports ran out of time
        if report["raised"] == SLOW_IMPORT:
            return Failure("timeout", _detail(report["message"]))
        kind = {
            "MemoryError": "memory",
            "NotImplementedError": "not_run"
        }.get(report["raised"], "error")
        message = f"{report['raised'][:100]}: {report['message']}" if report["message"] else report[
            "raised"][:100]
        return Failure(kind, _detail(message))
    if set(report) == {"setup_failed"}:
        return Failure("grader", _detail(str(report["setup_failed"])))
    if set(report) == {"unreadable"}:
        return Failure("error",
                       f"the task's results could not be sent ({str(report['unreadable'])[:100]})")
    return Failure("error", "the worker's report was not in the grader's format")


def _parse(text: str | None) -> dict[str, Any] | None:
    try:
        report = json.loads(text or "null")
    except (ValueError, RecursionError):  # garbage, or JSON nested deep enough to break the parser
        return None
    return report if isinstance(report, dict) else None


def _detail(text: str) -> str:
    text = " ".join(text.split())  # one line
    return text if len(text) <= DETAIL_CHARS else text[: DETAIL_CHARS - 1] + "…"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
