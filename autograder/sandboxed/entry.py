"""The worker's entry point for grading: what the sandbox runs for one task, around the checks.

    Sandbox(entry="autograder.sandboxed.entry:run").run(folder, {"task", "seed", "passed",
    "seconds"}, seconds)

The zygote imports this module once (and with it the checks' worker side), then forks a worker
per task that calls `run(args, imported)`. Here, not in the sandbox, are the grade's own rules
for a worker: which of the kit's modules it must never have loaded, the global generators seeded
from the task and the seed, the preview's import rule, and a slow import stopped in time to say
where the time went.
"""

from __future__ import annotations

import random
import signal
from collections.abc import Callable
from typing import Any

import numpy

from mgkit_checks import tasks, world
from mgkit_checks.course import Course
from mgkit_checks.course import use as use_course

from . import observe

# Modules the worker must never have loaded: they hold or load a solution, or the expected numbers.
FORBIDDEN_MODULES = ("autograder.reference.solution", "mgkit_reference_micrograd", "solutions",
                     "mgkit_checks.expect", "autograder.sandboxed.traversal",
                     "autograder.sandboxed.trusted")
IMPORT_MARGIN = 0.2  # the share of a task's time kept back to report where a slow import was


class SlowImport(BaseException):
    """Raised into the student's code when its imports have used up most of the task's time."""


# what the worker reports it raised: the parent reads it as a timeout
SLOW_IMPORT = SlowImport.__name__


def run(args: dict[str, Any], imported: Callable[[], None]) -> dict:
    """One task's observation: `args` holds its task, seed, the tasks passed so far and its
    seconds."""
    return observe(args["task"], args["seed"], under_the_grades_rules(args, imported),
                   args.get("passed", ()))


def under_the_grades_rules(args: dict[str, Any], imported: Callable[[],
                                                                    None]) -> Callable[[], None]:
    """Seed the generators, put the preview's import rule in force and arm the slow-import alarm;
    the callback returned (for once the task's imports are done) disarms it and tells the
    sandbox."""
    seed_global_generators(args["task"], args["seed"])
    # the preview's rule: the same imports refused, whatever is installed here
    world.install_import_rule()
    _report_a_slow_import(args["seconds"])

    def done_importing() -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        imported()

    return done_importing


def seed_global_generators(task: str, seed: int) -> None:
    """Student code that draws from the global generators draws the same numbers for the same seed.

    (A fork would otherwise leave numpy's as the zygote's and reseed `random` from the OS.)
    """
    random.seed(f"mgkit:{seed}:{task}")
    numpy.random.seed(random.getrandbits(32))


def _report_a_slow_import(seconds: float) -> None:
    """Shortly before the deadline, stop importing and report where the time went (imported()
    disarms it)."""

    def stop(signum: int, frame: Any) -> None:
        raise SlowImport(world.slow_import(seconds, world.running_in_students_files(frame)))

    signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds * (1 - IMPORT_MARGIN))


seed_global_generators("", 0)  # numpy's first seeding costs 10 ms: paid once, in the zygote


def boot() -> None:
    """The zygote's start: the course it was told (MGKIT_COURSE in its emptied environment) and its
    tasks, read while the kit's files are readable; a worker's sandbox hides them."""
    tasks.definitions(use_course(Course.find()))
