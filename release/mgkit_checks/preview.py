"""The preview: every task's checks on the public seed, run on the student's own code, in their process.

    from mgkit_checks.preview import Preview
    verdict = Preview().verdict("mul_backward")          # the importable `micrograd` package
    verdict = Preview(package).verdict("mul_backward")   # anything with .engine, .nn and .train

The cases, the rules and the diagnoses are the grade's (core.py, tasks.py); only the seed and
the harness differ (see core.Harness): the closures run newest node first, and nn and train
run on the student's own engine, so their checks wait for the engine's tasks. A task that
does not finish in a few seconds fails with one line instead of hanging the run.
"""

from __future__ import annotations

import ctypes
import importlib
import importlib.util
import sys
import threading
from contextlib import contextmanager
from types import ModuleType, SimpleNamespace

from .core import PUBLIC_SEED, Harness, Verdict, describe, hang_message, unreported, where
from .ops import run_closures_in_creation_order
from .tasks import DEFINITIONS, ENGINE_TASKS, JUDGING_ORDER, cases_for, judge, observe

SECONDS = {"zero_grad": 20.0, "training_loop": 20.0}  # training a model takes longer than a closure
DEFAULT_SECONDS = 5.0


class TaskTimeout(BaseException):
    """Raised into the student's code when a task's time is up (a BaseException: `except Exception` keeps going)."""


class Preview:
    """The verdicts of one version of the student's code, computed once each, dependencies first."""

    def __init__(self, package: ModuleType | SimpleNamespace | None = None, seed: int = PUBLIC_SEED):
        self.package = package  # None: import the student's `micrograd` as each task needs it
        self.seed = seed
        self.verdicts: dict[str, Verdict] = {}

    def verdict(self, task_id: str) -> Verdict:
        if task_id not in JUDGING_ORDER:
            raise KeyError(f"{task_id} is not a task of this course ({', '.join(JUDGING_ORDER)}): see course.toml")
        for earlier in JUDGING_ORDER[: JUDGING_ORDER.index(task_id) + 1]:
            if earlier not in self.verdicts:
                self.verdicts[earlier] = self._judge(earlier)
        return self.verdicts[task_id]

    def _judge(self, task_id: str) -> Verdict:
        definition = DEFINITIONS[task_id]
        passed = frozenset(task for task, done in self.verdicts.items() if done.passed)
        seconds = SECONDS.get(task_id, DEFAULT_SECONDS)
        try:
            with deadline(seconds):
                reports = observe(task_id, self.seed, self._harness(definition.imports), passed)
        except TaskTimeout:
            return unreported(definition, cases_for(task_id, self.seed), hang_message(definition, f"in {seconds:g} s"))
        except Exception as error:  # importing the student's modules failed: every case of the task fails alike
            reports = [{"error": describe(error), "where": where(error)}] * len(cases_for(task_id, self.seed))
        return judge(task_id, self.seed, reports, self.verdicts, ENGINE_TASKS)

    def _harness(self, modules: tuple[str, ...]) -> Harness:
        package = self.package or _import_student_package(modules)
        nn, train = getattr(package, "nn", None), getattr(package, "train", None)
        return Harness(package.engine.Value, nn, train, run_closures_in_creation_order, engine_tasks=ENGINE_TASKS,
                       reraise=(KeyboardInterrupt, TaskTimeout))


def _import_student_package(modules: tuple[str, ...]) -> SimpleNamespace:
    """The student's modules a task runs; a broken nn.py must not fail the engine's tasks."""
    try:
        importlib.import_module("micrograd")
    except Exception:  # e.g. nn.py does not compile, and __init__ imports it: the engine can still be checked
        spec = importlib.util.find_spec("micrograd")
        if spec is None or not spec.submodule_search_locations:
            raise ImportError("no micrograd package here: run pytest from the folder that holds micrograd/") from None
        package = sys.modules["micrograd"] = ModuleType("micrograd")
        package.__path__ = list(spec.submodule_search_locations)
    return SimpleNamespace(**{name: importlib.import_module(f"micrograd.{name}") for name in modules})


@contextmanager
def deadline(seconds: float):
    """Raise TaskTimeout in this thread if the block has not finished within `seconds`.

    A timer thread raises it asynchronously (CPython's PyThreadState_SetAsyncExc), so a loop
    that never ends in pure Python stops on any platform, in pytest or in a notebook's kernel.
    """
    target, lock, state = threading.get_ident(), threading.Lock(), {"done": False, "fired": False}
    set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc

    def fire() -> None:
        with lock:
            if not state["done"]:
                state["fired"] = True
                set_async_exc(ctypes.c_ulong(target), ctypes.py_object(TaskTimeout))

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        with lock:
            state["done"] = True
            if state["fired"]:  # raised, or still pending: a pending one must not escape this block
                set_async_exc(ctypes.c_ulong(target), None)


def task_line(result: Verdict) -> str:
    """The one line a failing or undecided task shows: the task, then its feedback."""
    return f"{result.task_id}: {result.feedback}"


__all__ = ["Preview", "TaskTimeout", "deadline", "task_line"]
