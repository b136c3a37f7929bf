"""fake_checks, except that judging an answer of "end the grader" ends the grading process itself.

What a grader's death looks like to a class run (the kit's own fault, never the student's: the
student's code cannot reach the grader); judge runs in the grader, not in the sandbox.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))  # the zygote loads this file alone: its neighbour too
import fake_checks  # noqa: E402

from autograder.sandboxed.api import Observation  # noqa: E402

IMPORTS, JUDGING_ORDER = fake_checks.IMPORTS, fake_checks.JUDGING_ORDER
observe, task_result = fake_checks.observe, fake_checks.task_result
FATAL = "end the grader"


def judge_task(task_id: str, seed: int, outcome, earlier: dict):
    if isinstance(outcome, Observation) and outcome.data.get("answer") == FATAL:
        os._exit(3)
    return fake_checks.judge_task(task_id, seed, outcome, earlier)
