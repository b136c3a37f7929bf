"""The judge half of the grade: a task's verdict, in the trusted parent, from what its worker
reported.

    verdict = judge_task("mul_backward", seed, outcome, earlier)  # the rules of mgkit_checks.core
    result = task_result(verdict, points)                         # what the results file keeps

The verdict comes from the seed and the reported numbers alone, so student code never decides
its own score. Tasks are judged in the order of their definitions' needs (mgkit_checks.tasks);
`imports_of` names what a task's worker imports of the student's files, so a module whose
import hangs costs the grader one deadline, not ten.
"""

from __future__ import annotations

from mgkit_checks import tasks
from mgkit_checks.core import FAILED, Check, Diagnosis, Verdict, hang_message, raised, unreported
from mgkit_checks.course import in_use
from mgkit_checks.tasks import cases_for, judge

from .outcomes import Failure, Outcome, TaskResult


def imports_of(task_id: str) -> str:
    """What the task's worker imports of the student's files: "micrograd/engine.py"; nn and train
    run on the kit's engine, so theirs name only those."""
    definition = tasks.definitions(in_use())[task_id]
    modules = [m for m in definition.imports if not (definition.on_kit_engine and m == "engine")]
    return " and ".join(f"micrograd/{module}.py" for module in modules)


def judge_task(task_id: str, seed: int, outcome: Outcome, earlier: dict[str, Verdict]) -> Verdict:
    """The task's verdict from what its worker reported (or how it failed)."""
    cases = cases_for(task_id, seed)
    definition = tasks.definitions(in_use())[task_id]
    if isinstance(outcome, Failure):
        return unreported(definition, cases, _failure_check(task_id, outcome))
    reports = outcome.data.get("cases") if isinstance(outcome.data, dict) else None
    if not isinstance(reports, list) or len(reports) != len(cases):
        return unreported(definition, cases, Check("the report", FAILED, UNUSABLE_REPORT))
    return judge(task_id, seed, reports, earlier)


UNUSABLE_REPORT = (
    "the grader received no usable report for this task: the grader's problem, not your code's"
)


def _failure_check(task_id: str, failure: Failure) -> Check:
    """A worker that gave no report: why, in the student's terms."""
    definition = tasks.definitions(in_use())[task_id]
    detail = f" ({failure.detail})" if failure.detail else ""
    if failure.kind in ("error", "not_run") and failure.detail:
        return raised(definition, "the code ran", failure.detail)
    if failure.kind == "timeout":  # the grading loop says when it was the import that never ended
        importing = imports_of(task_id) if failure.detail.startswith("while importing") else ""
        return hang_message(definition, f"in time{detail}", importing)
    message = {
        "memory": f"your code used more memory than allowed{detail}",
        "crash": f"your code stopped the process{detail}",
        "output": f"your code printed more than allowed{detail}",
    }.get(failure.kind, f"this task could not be run{detail}")
    return Check("the code ran", FAILED, message, (Diagnosis(f"{task_id}/{failure.kind}", ""),))


def task_result(result: Verdict, points: float) -> TaskResult:
    """A verdict as the results file keeps it: full points only for a pass (never for
    'undecided')."""
    return TaskResult(result.task_id, points if result.passed else 0.0, points, result.feedback,
                      [(check.label, check.state == "passed") for check in result.checks],
                      (result.diagnosis.id,) if result.diagnosis else (),
                      (result.diagnosis.advice,) if result.diagnosis else ())
