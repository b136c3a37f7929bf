"""The grade's checks: the tasks of mgkit_checks, run in the sandbox on a secret seed.

Two halves, so that student code never decides its own score:

- `observe(task_id, seed, imported, passed)` runs in the untrusted worker, where the student's
  `micrograd` is importable: the task's cases (those whose tasks have passed) through the
  contract's public API, plain numbers out. It calls `imported()` once the student's modules are
  imported; `IMPORTS` names what each task imports, so a module whose import hangs costs the
  grader one deadline, not ten.
- `judge_task(task_id, seed, outcome, earlier)` runs in the trusted parent: the same rules as
  the student's preview (mgkit_checks.core), from the seed and the reported numbers alone.
  Tasks are judged in `JUDGING_ORDER`, each after the tasks its cases lean on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from mgkit_checks.core import FAILED, Check, Diagnosis, Verdict, hang_message, raised, unreported
from mgkit_checks.tasks import DEFINITIONS, JUDGING_ORDER, cases_for, judge
from mgkit_checks.tasks import observe as observe_cases

from .api import Failure, Observation, Outcome, TaskResult
from .harness import harness_for

# What each task imports of the student's files (nn and train on the kit's engine): if importing
# them hangs or crashes for one task, the grader fails the others that import the same unrun.
IMPORTS = {**{task: "micrograd/engine.py" for task in DEFINITIONS},
           "zero_grad": "micrograd/nn.py and micrograd/train.py", "training_loop": "micrograd/train.py"}


def observe(task_id: str, seed: int, imported: Callable[[], None] = lambda: None,
            passed: Iterable[str] = ()) -> dict:
    """The worker's side: run the task's cases on the importable student package; one report per case."""
    harness = harness_for(task_id)
    imported()
    return {"cases": observe_cases(task_id, seed, harness, frozenset(passed))}


def judge_task(task_id: str, seed: int, outcome: Outcome, earlier: dict[str, Verdict]) -> Verdict:
    """The parent's side: the task's verdict from what its worker reported (or how it failed)."""
    cases = cases_for(task_id, seed)
    if isinstance(outcome, Failure):
        return unreported(DEFINITIONS[task_id], cases, _failure_check(task_id, outcome))
    reports = outcome.data.get("cases") if isinstance(outcome.data, dict) else None
    if not isinstance(reports, list) or len(reports) != len(cases):
        return unreported(DEFINITIONS[task_id], cases,
                          Check("the report", FAILED, "the grader received no usable report for this task"))
    return judge(task_id, seed, reports, earlier)


def _failure_check(task_id: str, failure: Failure) -> Check:
    """A worker that gave no report: why, in the student's terms."""
    definition, detail = DEFINITIONS[task_id], f" ({failure.detail})" if failure.detail else ""
    if failure.kind in ("error", "not_run") and failure.detail:
        return raised(definition, "the code ran", failure.detail)
    if failure.kind == "timeout":  # the grading loop says when it was the import that never ended
        importing = IMPORTS[task_id] if failure.detail.startswith("while importing") else ""
        return hang_message(definition, f"in time{detail}", importing)
    message = {
        "memory": f"your code used more memory than allowed{detail}",
        "crash": f"your code stopped the process{detail}",
        "output": f"your code printed more than allowed{detail}",
    }.get(failure.kind, f"this task could not be run{detail}")
    return Check("the code ran", FAILED, message, (Diagnosis(f"{task_id}/{failure.kind}", ""),))


def task_result(result: Verdict, points: float) -> TaskResult:
    """A verdict as the results file keeps it: full points only for a pass (never for 'undecided')."""
    return TaskResult(result.task_id, points if result.passed else 0.0, points, result.feedback,
                      [(check.label, check.state == "passed") for check in result.checks],
                      (result.diagnosis.id,) if result.diagnosis else (),
                      (result.diagnosis.advice,) if result.diagnosis else ())


__all__ = ["IMPORTS", "JUDGING_ORDER", "Failure", "Observation", "Outcome", "TaskResult", "judge_task", "observe",
           "task_result"]
