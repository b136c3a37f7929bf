"""Fake submissions and a fake worker entry, so that the grading machinery is tested on its own.

A fake submission's engine.py holds only `answer(task_id, seed)`; the tests make that do anything
(hang, fork, flood, exit). `answer` (ANSWER, for the sandbox's own tests) reports what it returns;
tests/fake_judged.py (JUDGED, for grading) asks it, then lets the kit's own checks judge.
Either way the worker's rules are the grade's (autograder.sandboxed.entry: seeded generators,
the preview's import rule, a slow import told as one). CORRECT_ENGINE answers `seed + len(task_id)`.
"""

from __future__ import annotations

import importlib.util
import os
import textwrap
from pathlib import Path

from autograder.sandbox import Limits
from autograder.sandboxed import entry

# The wall-clock deadline a task runs under in the kit's tests. A correct fake answer takes
# milliseconds, but on a loaded machine a worker may wait its turn for a second or more, so a test
# that grades no hang leaves real margin. SHORT is for code that never answers in time at all
# (each hang costs its deadline), whose verdict no load can change.
ROOMY = Limits(seconds=20.0, memory_mb=256, output_bytes=64 * 1024)
SHORT = Limits(seconds=0.5, memory_mb=256, output_bytes=64 * 1024)

ANSWER = f"{__file__}:answer"  # a Sandbox's entry: "file.py:function"
JUDGED = f"{Path(__file__).with_name('fake_judged.py')}:run"
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


def students_engine(done_importing):
    """The submission's engine.py, by its path (its micrograd/__init__.py may import what it
    lacks)."""
    spec = importlib.util.spec_from_file_location(
        "student_engine", os.path.join(os.getcwd(), "micrograd", "engine.py"))
    engine = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(engine)
    done_importing()
    return engine


def answer(args: dict, imported) -> dict:
    """The worker's entry: what the submission's engine answers."""
    done_importing = entry.under_the_grades_rules(args, imported)
    return {"answer": students_engine(done_importing).answer(args["task"], args["seed"])}
