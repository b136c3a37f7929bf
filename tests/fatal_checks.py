"""fake_checks, except that judging an answer of "end the grader" ends the grading process itself.

What a grader's death looks like to a class run (the kit's own fault, never the student's: the
student's code cannot reach the grader); judge runs in the grader, not in the sandbox.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))  # the zygote loads this file alone: its neighbour too
import fake_checks  # noqa: E402

from autograder.checks.api import Observation  # noqa: E402

IMPORTS = fake_checks.IMPORTS
observe = fake_checks.observe
FATAL = "end the grader"


def judge(seed: int, outcomes: dict) -> list:
    if any(isinstance(outcome, Observation) and outcome.data.get("answer") == FATAL for outcome in outcomes.values()):
        os._exit(3)
    return fake_checks.judge(seed, outcomes)
