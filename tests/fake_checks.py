"""A tiny stand-in for autograder.sandboxed, so that the grading machinery is tested on its own.

`observe(task_id, seed, ...)` asks the submission's engine.py for `answer(task_id, seed)`; the
tests' submissions make that do anything (hang, fork, flood, exit). `judge_task` gives a task full
marks when the answer is `seed + len(task_id)`, the answer of `CORRECT_ENGINE`.
"""

from __future__ import annotations

import importlib.util
import os
import textwrap
from pathlib import Path

from autograder.reference.rubric import TASKS
from autograder.sandboxed.api import Failure, Observation, TaskResult

CORRECT_ENGINE = "def answer(task_id, seed):\n    return seed + len(task_id)\n"


def engine_answering(body: str) -> str:
    """An engine.py whose answer runs `body` first (indented here), then answers correctly."""
    body = textwrap.indent(textwrap.dedent(body), "    ")
    return f"def answer(task_id, seed):\n{body}\n    return seed + len(task_id)\n"


def write_submission(folder: Path, engine: str = CORRECT_ENGINE) -> Path:
    """A submission folder holding micrograd/engine.py (and empty nn.py, train.py)."""
    package = folder / "micrograd"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "engine.py").write_text(engine)
    (package / "nn.py").write_text("")
    (package / "train.py").write_text("")
    return folder


IMPORTS = dict.fromkeys((task.id for task in TASKS), "micrograd/engine.py")  # every task imports engine.py
JUDGING_ORDER = tuple(task.id for task in TASKS)


def observe(task_id: str, seed: int, imported=lambda: None, passed=()) -> dict:
    # engine.py by its path: the kit's micrograd/__init__.py would import names it lacks
    spec = importlib.util.spec_from_file_location("student_engine", os.path.join(os.getcwd(), "micrograd", "engine.py"))
    engine = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(engine)
    imported()
    return {"answer": engine.answer(task_id, seed)}


def judge_task(task_id: str, seed: int, outcome, earlier: dict) -> TaskResult:
    points = float(next(task.points for task in TASKS if task.id == task_id))
    right = isinstance(outcome, Observation) and outcome.data.get("answer") == seed + len(task_id)
    why = f"{outcome.kind}: {outcome.detail}" if isinstance(outcome, Failure) else f"answered {outcome.data}"
    return TaskResult(task_id, points if right else 0.0, points, "right" if right else f"wrong ({why})")


def task_result(verdict: TaskResult, points: float) -> TaskResult:
    return verdict
