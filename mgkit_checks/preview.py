"""The preview: every task's checks on the public seed, run on the student's own code, in their
process.

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
from collections.abc import Callable
from contextlib import contextmanager
from types import ModuleType, SimpleNamespace
from typing import Any

from . import tasks
from .core import (
    PUBLIC_SEED,
    UNDECIDED,
    Check,
    Harness,
    Verdict,
    describe,
    hang_message,
    unreported,
    verdict,
    where,
)
from .course import in_use
from .ops import run_closures_in_creation_order
from .tasks import cases_for, judge, observe, seconds_for
from .training import FreshGradients
from .world import import_rule, slow_import, stand_in


def runs_closures(task_id: str) -> bool:
    """Whether the task's cases run closures in a traversal's order (the ops, grad_accumulation)."""
    definition = tasks.definitions(in_use()).get(task_id)
    return (
        definition is not None and "traversal" in definition.parts and not definition.on_kit_engine
    )


def on_kit_engine(task_id: str) -> bool:
    """Whether the grade runs the task on its own engine (nn and train): see core.Harness."""
    definition = tasks.definitions(in_use()).get(task_id)
    return definition is not None and definition.on_kit_engine


class TaskTimeout(BaseException):
    """Raised into the student's code when a task's time is up (a BaseException: `except Exception`
    keeps going)."""


class Preview:
    """The verdicts of one version of the student's code, computed once each, dependencies first."""

    def __init__(self, package: ModuleType | SimpleNamespace | None = None,
                 seed: int = PUBLIC_SEED):
        self.package = package  # None: import the student's `micrograd` as each task needs it
        self.seed = seed
        self.verdicts: dict[str, Verdict] = {}

    def verdict(self, task_id: str) -> Verdict:
        order = tasks.judging_order(in_use())
        if task_id not in order:
            raise KeyError(
                f"{task_id} is not a task of this course ({', '.join(order)}): see course.toml")
        for earlier in order[: order.index(task_id) + 1]:
            if earlier not in self.verdicts:
                self.verdicts[earlier] = self._judge(earlier)
        return self.verdicts[task_id]

    def _judge(self, task_id: str) -> Verdict:
        result = self._judge_with(task_id, run_closures_in_creation_order)
        known = task_id in tasks.definitions(in_use())
        if result.state == UNDECIDED and known and self._follows_any_graph(task_id):
            # an op built from other ops: once the student's own backward() passes, it follows the
            # graph
            result = self._judge_with(task_id, self._run_closures_by_your_backward)
        return result

    def _follows_any_graph(self, task_id: str) -> bool:
        if not runs_closures(task_id) or "topo_sort" not in tasks.definitions(in_use()):
            return False
        # judged early: its cases run no closure of the student's
        if "topo_sort" not in self.verdicts:
            self.verdicts["topo_sort"] = self._judge_with("topo_sort",
                                                          run_closures_in_creation_order)
        return self.verdicts["topo_sort"].passed

    def _judge_with(self, task_id: str, run_closures: Callable) -> Verdict:
        definition = tasks.definitions(in_use())[task_id]
        passed = frozenset(task for task, done in self.verdicts.items() if done.passed)
        seconds, importing = seconds_for(task_id), True
        try:
            with deadline(seconds), import_rule():
                harness = self._harness(task_id, run_closures)
                importing = False
                reports = observe(task_id, self.seed, harness, passed)
        except TaskTimeout as stopped:
            said = (
                f"in {seconds:g} s ({slow_import(seconds, where(stopped))})"
                if importing
                else f"in {seconds:g} s"
            )
            return unreported(definition, cases_for(task_id, self.seed),
                              hang_message(definition, said))
        except EngineDoesNotImport as error:
            return verdict(task_id, [Check("the code ran", UNDECIDED, str(error))])
        # importing the student's modules failed: every case of the task fails alike
        except Exception as error:
            reports = [{
                "error": describe(error),
                "where": where(error)
            }] * len(cases_for(task_id, self.seed))
        if task_id == "zero_grad":
            reports = self._unless_backward_resets(reports, harness if not importing else None)
        return judge(task_id, self.seed, reports, self.verdicts, tasks.engine_tasks(in_use()))

    def _harness(self, task_id: str, run_closures: Callable) -> Harness:
        package = self.package or _import_student_package(task_id)
        nn, train = getattr(package, "nn", None), getattr(package, "train", None)
        return Harness(package.engine.Value, nn, train, run_closures,
                       engine_tasks=tasks.engine_tasks(in_use()), reraise=(KeyboardInterrupt,
                                                                           TaskTimeout))

    @staticmethod
    def _run_closures_by_your_backward(out: Any, out_grad: float, created: list) -> None:
        """Run the closures in the order the student's backward() calls them (it passed topo_sort):
        the output seeded with `out_grad`, and every gradient as it was before backward() began."""
        before = [(node, node.grad) for node in created]
        closure = out._backward

        # the output's closure runs first: from here on the closures do the work
        def seeded() -> None:
            for node, grad in before:
                node.grad = grad
            out.grad = out_grad
            closure()

        out._backward = seeded
        try:
            out.backward()
        finally:
            out._backward = closure

    def _unless_backward_resets(self, reports: list, harness: Harness | None) -> list:
        """zero_grad's loop case, left to the grade when the student's backward() itself resets the
        gradients: this preview trains on that engine, where a loop that never zeroes looks
        right."""
        if harness is None or not _backward_resets_gradients(harness.Value):
            return reports
        cases = cases_for("zero_grad", self.seed)
        return [{"undecided": RESETS} if case.get("loop") and report is not None else report
                for case, report in zip(cases, reports)]


RESETS = (
    "your backward() sets every gradient to 0 before it adds, so on your engine a loop that never "
    "zeroes looks like one that does; the grade trains on its own engine, which does not reset them"
)


class EngineDoesNotImport(Exception):
    """nn.py and train.py cannot run here without the student's engine (the grade runs them on its
    own)."""


def _backward_resets_gradients(value_class: type) -> bool:
    """Whether backward() on the student's engine starts by zeroing gradients that were already
    there."""
    try:
        a, b = value_class(2.0), value_class(3.0)
        a.grad = 5.0
        (a * b).backward()
        return abs(a.grad - 3.0) < 1e-9
    except Exception:  # an engine whose * or backward() fails: its own tasks say so
        return False


def _import_student_package(task_id: str) -> SimpleNamespace:
    """The student's modules the task runs, as the grade imports them: a broken nn.py fails neither
    the engine's tasks nor training_loop (its model is the kit's), and nn and train need the
    engine."""
    _bare_package()
    engine = _import_engine(task_id)
    if task_id == "training_loop":
        return SimpleNamespace(engine=engine,
                               train=_import_with_stand_in("train", "nn", Module=FreshGradients))
    modules = [name for name in tasks.definitions(in_use())[task_id].imports if name != "engine"]
    return SimpleNamespace(
        engine=engine, **{name: importlib.import_module(f"micrograd.{name}")
                          for name in modules})


def _import_engine(task_id: str) -> ModuleType:
    try:
        return importlib.import_module("micrograd.engine")
    except Exception as error:
        if not on_kit_engine(task_id):
            raise
        at = f" ({where(error)})" if where(error) and where(error) not in describe(error) else ""
        raise EngineDoesNotImport(
            f"your engine.py does not import ({describe(error)}{at}), and this preview runs "
            "nn.py and train.py on your engine (the grade runs them on its own)") from None


def _import_with_stand_in(module: str, stood_in: str, **names: Any) -> ModuleType:
    """micrograd.<module> imported afresh while micrograd.<stood_in> holds the kit's `names` (any
    other name comes from the student's file, loaded then); what was imported before is put back
    after."""
    saved = {name: sys.modules.pop(f"micrograd.{name}", None) for name in (module, stood_in)}
    sys.modules[f"micrograd.{stood_in}"] = stand_in(stood_in, **names)
    try:
        return importlib.import_module(f"micrograd.{module}")
    finally:
        for name, old in saved.items():
            sys.modules.pop(f"micrograd.{name}", None)
            if old is not None:
                sys.modules[f"micrograd.{name}"] = old


def _bare_package() -> None:
    """`micrograd` as a package whose __init__ need not import (nn.py may not compile, and __init__
    imports it)."""
    if "micrograd" in sys.modules:
        return
    try:
        importlib.import_module("micrograd")
    except Exception:
        spec = importlib.util.find_spec("micrograd")
        if spec is None or not spec.submodule_search_locations:
            raise ImportError(
                "no micrograd package here: run pytest from the folder that holds micrograd/"
            ) from None
        package = sys.modules["micrograd"] = ModuleType("micrograd")
        package.__path__ = list(spec.submodule_search_locations)


@contextmanager
def deadline(seconds: float, error: type[BaseException] = TaskTimeout):
    """Raise `error` in this thread if the block has not finished within `seconds`.

    A timer thread raises it asynchronously (CPython's PyThreadState_SetAsyncExc), so a loop
    that never ends in pure Python stops on any platform, in pytest or in a notebook's kernel.
    """
    target, lock, state = threading.get_ident(), threading.Lock(), {"done": False, "fired": False}
    set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc

    def fire() -> None:
        with lock:
            if not state["done"]:
                state["fired"] = True
                set_async_exc(ctypes.c_ulong(target), ctypes.py_object(error))

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
