"""micrograd-kit's Python API: one call per `mgkit` command (cli.py parses, finds the course, calls
one, prints).

    import autograder
    results = autograder.grade(Path("alice"), seed=7)        # mgkit grade alice --seed 7
    results = autograder.grade_all(Path("in"), Path("out"))  # mgkit grade-all in --out out
    results = autograder.merge(Path("ci"), Path("out"))      # mgkit grade-all ci --out out --merge
    stale = autograder.build_release(Path("."), check=True)  # mgkit release --check

(`build_release`, not `release`: autograder.release is the package that builds it.) Each call
imports its job's package when it is made: `import autograder` stays cheap, and a
sandbox worker, which imports autograder.sandboxed, loads nothing else of the kit. Each takes
the course to grade by (`course=Course.find(Path("my-course"))`); left out, the course in use
(mgkit_checks.course.in_use: the nearest course.toml above the current folder, else the kit's).
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mgkit_checks.course import Course, using

if TYPE_CHECKING:
    from .classrun.gradebook import ClassResults
    from .grading.results import GradingResults
    from .grading.submission import Submission


def grade(path: Path | Submission, seed: int | None = None, course: Course | None = None,
          **options: Any) -> GradingResults:
    """One submission's grade (`mgkit grade`): autograder.grading.loop.grade."""
    from .grading.loop import grade as grade_one

    with _by(course):
        return grade_one(path, seed, **options)


def grade_all(submissions: Path, out: Path, course: Course | None = None,
              **options: Any) -> ClassResults:
    """A class, graded into `out` (`mgkit grade-all`): autograder.classrun.gradebook.grade_all."""
    from .classrun import gradebook

    with _by(course):
        return gradebook.grade_all(submissions, out, **options)


def merge(parts: Path, out: Path, course: Course | None = None, **options: Any) -> ClassResults:
    """Results graded elsewhere, gathered into one gradebook (`mgkit grade-all --merge`)."""
    from .classrun import gradebook

    with _by(course):
        return gradebook.merge(parts, out, **options)


def build_release(root: Path, check: bool = False, course: Course | None = None) -> list[str]:
    """Write the course's student release (`mgkit release`); with `check`, only list what is
    stale."""
    from .release import build

    with _by(course):
        if check:
            return build.check(root)
        build.release(root)
    return []


def _by(course: Course | None):
    """Grade by `course` while inside; None: the course in use."""
    return using(course) if course is not None else nullcontext()
