"""The checks: what the grader asks of a submission, and how it judges the answers.

Two halves, so that student code never decides its own score:

- `observe(task_id, seed, imported)` runs in the untrusted worker, where the student's
  `micrograd` is importable. It builds the graphs the task needs through the contract's public
  API only and returns plain numbers (a JSON-able dict). It holds no expected values and no
  verdicts. It calls `imported()` once the student's modules are imported; `IMPORTS` names
  what each task imports, so a module whose import hangs costs the grader one deadline, not ten.
- `judge(seed, outcomes)` runs in the trusted parent. From the seed it recomputes the inputs
  and the expected numbers, compares them with what each task's worker reported, and returns
  one `TaskResult` per task of the rubric, in rubric order.
"""

from .api import Failure, Observation, Outcome, TaskResult
from .hidden import IMPORTS, judge, observe

# The modules students get (copied verbatim into release/tests/mgkit_checks/): the probes,
# the verdicts and the public cases. hidden.py and trusted.py never leave the kit.
SHIPPED = ("cases.py", "probes.py", "verdicts.py", "public.py")

__all__ = ["IMPORTS", "SHIPPED", "Failure", "Observation", "Outcome", "TaskResult", "judge", "observe"]
