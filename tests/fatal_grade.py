"""A grader that dies: when a hand-in's answer is "end the grader", its grading process ends itself.

What a grader's death looks like to a class run (the kit's own fault, never the student's: the
student's code cannot reach the grader). A class run's graders call `grade` (Session.grade).
"""

from __future__ import annotations

import os
from pathlib import Path

from autograder.grading.loop import grade as real_grade

FATAL = "end the grader"


def grade(work, seed, **options):
    """The real grade, unless the hand-in's engine.py (a folder, or as the class run read it) says
    FATAL."""
    if isinstance(work, Path):
        engine = work / "micrograd" / "engine.py"
        text = engine.read_bytes() if engine.is_file() else b""
    else:
        text = work.sources.get("engine") or b""
    if repr(FATAL).encode() in text:
        os._exit(3)
    return real_grade(work, seed, **options)
