"""The hidden checks: random cases from a seed, the worker's `observe` and the parent's `judge`.

Never shipped to students. The worker and the parent make the same cases from the same seed;
the worker reports what the student's code did, the parent alone decides.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import random
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..rubric import BY_ID, TASK_IDS
from . import trusted
from .api import Failure, Observation, Outcome, TaskResult
from .cases import OP_TASK, REPEATED, op_case
from .probes import Target, probe
from .traversal import kit_backward
from .verdicts import (
    judge_accumulation,
    judge_expr,
    judge_op,
    judge_topo,
    judge_train,
    judge_zero_grad_loop,
    judge_zero_grad_module,
)

POWERS = (2, 3, -1, 0.5, -2)
# small enough to train in ~0.2 s; a correct loop reaches 70% on most data, and where it does
# not, the parent trains the same model itself and asks for what it reached, less TRAIN_MARGIN
TRAIN_CASE = {"points": 20, "nouts": [6, 1], "steps": 20, "lr": 0.5, "target": 0.7}
TRAIN_MARGIN = 0.05  # one point of 20


# ---- cases -------------------------------------------------------------------------------

def cases_for(task_id: str, seed: int) -> list[dict]:
    """The cases of one task for one seed: the same in the worker and in the parent."""
    rng = random.Random(f"{seed}:{task_id}")
    op = task_id.removesuffix("_backward")
    if task_id in OP_TASK.values():
        return [_random_op_case(op, rng, k) for k in range(6)]
    if task_id == "grad_accumulation":
        return _accumulation_cases(rng)
    if task_id == "topo_sort":
        return [_diamond(rng), _random_graph(rng, 12), _chain(rng, 150)]
    if task_id == "zero_grad":
        return [{"kind": "zero_grad_module"},
                {"kind": "zero_grad_loop", "needs": ["training_loop"], "points": 16, "nouts": [4, 1],
                 "data_seed": rng.randrange(10**6), "model_seed": rng.randrange(10**6)}]
    if task_id == "training_loop":
        return [{"kind": "train", **TRAIN_CASE, "data_seed": rng.randrange(10**6), "model_seed": rng.randrange(10**6)}]
    raise KeyError(task_id)


def _away_from_zero(rng: random.Random, low: float, high: float) -> float:
    """A number with |x| in [low, high] and a random sign: negative and fractional inputs included."""
    return rng.choice((-1, 1)) * rng.uniform(low, high)


def _random_op_case(op: str, rng: random.Random, k: int, start: bool = False) -> dict:
    out_grad = _away_from_zero(rng, 0.5, 2.0)  # never 1: a missing out.grad factor must show
    power = None
    if op == "pow":
        power = POWERS[k % len(POWERS)]
        inputs = [rng.uniform(0.3, 2.5) if power == 0.5 else _away_from_zero(rng, 0.3, 2.0)]
    elif op in ("add", "mul"):
        inputs = [_away_from_zero(rng, 0.2, 3.0), _away_from_zero(rng, 0.2, 3.0)]
    elif op == "relu":
        inputs = [(1 if k % 2 else -1) * rng.uniform(0.2, 3.0)]  # both sides of the kink
    else:
        inputs = [_away_from_zero(rng, 0.1, 2.5)]
    starts = [_away_from_zero(rng, 0.5, 3.0) for _ in inputs] if start else None
    return op_case(op, inputs, out_grad, power, starts)


def _accumulation_cases(rng: random.Random) -> list[dict]:
    """Each op run twice, from .grad = 0 and from .grad = start; then the repeated-variable expressions."""
    cases = []
    for k, op in enumerate(OP_TASK):
        from_start = _random_op_case(op, rng, k, start=True)
        cases += [{**from_start, "start": None}, from_start]
    for expr, needs in REPEATED:
        cases.append({"kind": "expr", "expr": expr, "needs": list(needs),
                      "vars": {"a": _away_from_zero(rng, 0.3, 1.5), "b": _away_from_zero(rng, 0.3, 1.5)}
                      if "b" in expr else {"a": _away_from_zero(rng, 0.3, 1.5)}})
    return cases


def _diamond(rng: random.Random) -> dict:
    # a, b; c = a * b; d = c + a; e = c * d: c feeds two ops, a feeds two ops
    return {"kind": "topo", "leaves": [_away_from_zero(rng, 0.5, 2), _away_from_zero(rng, 0.5, 2)],
            "program": [["*", 0, 1], ["+", 2, 0], ["*", 2, 3]], "output": 4}


def _random_graph(rng: random.Random, ops: int) -> dict:
    leaves = [_away_from_zero(rng, 0.5, 1.5) for _ in range(4)]
    program = []
    for k in range(ops):
        size = len(leaves) + k
        program.append([rng.choice("+*"), rng.randrange(max(0, size - 6), size), rng.randrange(size)])
    return {"kind": "topo", "leaves": leaves, "program": program, "output": len(leaves) + ops - 1}


def _chain(rng: random.Random, ops: int) -> dict:
    program = [["+", k, 0] for k in range(ops)]  # x1 = x0 + x0, x2 = x1 + x0, ...
    return {"kind": "topo", "leaves": [_away_from_zero(rng, 0.5, 1.5)], "program": program, "output": ops}


# ---- the worker's side -------------------------------------------------------------------

# What each task imports of the student's files (nn and train on the kit's engine): if importing
# them hangs or crashes for one task, the grader fails the others that import the same unrun.
IMPORTS = {**dict.fromkeys(TASK_IDS, "micrograd/engine.py"),
           "zero_grad": "micrograd/nn.py and micrograd/train.py", "training_loop": "micrograd/train.py"}


def observe(task_id: str, seed: int, imported: Callable[[], None] = lambda: None) -> dict[str, Any]:
    """Run the task's cases on the importable student package: one report per case.

    `imported()` is called once the student's modules are imported, before any case runs.
    """
    target = _target(task_id)
    imported()
    reports = []
    for case in cases_for(task_id, seed):
        try:
            reports.append(probe(case, target))
        except BaseException as error:  # the student's code may raise anything, SystemExit included
            reports.append({"error": _describe(error)})
    return {"cases": reports}


def _target(task_id: str) -> Target:
    """Import only what the task needs; nn and train run on the trusted engine."""
    _bare_package()
    if task_id not in ("zero_grad", "training_loop"):
        return Target(importlib.import_module("micrograd.engine").Value, backward=kit_backward)
    value_class = trusted.ForgivingValue if task_id == "training_loop" else trusted.Value
    sys.modules["micrograd.engine"] = _stand_in("engine", Value=value_class)
    if task_id == "training_loop":  # the loop needs no nn.py of the student's, unless train.py asks for more
        sys.modules["micrograd.nn"] = _stand_in("nn", Module=trusted.Module)
    nn = importlib.import_module("micrograd.nn")
    train = importlib.import_module("micrograd.train")
    return Target(value_class, nn, train, lambda nouts, seed: trusted.make_mlp(value_class, 2, nouts, seed),
                  kit_backward, grad_of=trusted.grad_at_last_backward)


def _stand_in(module: str, **names: Any) -> types.ModuleType:
    """`micrograd.<module>` holding the kit's `names`; any other name asked of it comes from the
    student's own file, loaded only then. So a student's engine.py whose import hangs or crashes
    costs nn and train nothing, while a train.py that also takes draw_dot from engine.py still runs."""
    stand_in = types.ModuleType(f"micrograd.{module}")
    stand_in.__dict__.update(names)
    students = f"micrograd._students_{module}"

    def __getattr__(name: str) -> Any:
        if name.startswith("__"):  # the import system asking about the module itself (__path__, ...)
            raise AttributeError(name)
        if students not in sys.modules:
            path = Path(sys.modules["micrograd"].__path__[0]) / f"{module}.py"
            spec = importlib.util.spec_from_file_location(students, path)
            sys.modules[students] = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(sys.modules[students])
        return getattr(sys.modules[students], name)

    stand_in.__getattr__ = __getattr__
    return stand_in


def _bare_package() -> None:
    """`micrograd` as a bare package, so importing engine does not also import a broken nn.py."""
    spec = importlib.util.find_spec("micrograd")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("no micrograd package on the path")
    package = types.ModuleType("micrograd")
    package.__path__ = list(spec.submodule_search_locations)
    sys.modules["micrograd"] = package


def _describe(error: BaseException) -> str:
    try:
        text = str(error)
    except BaseException:  # an exception whose __str__ raises
        text = "(its message could not be read)"
    return f"{type(error).__name__}: {text}"[:500]


# ---- the parent's side -------------------------------------------------------------------

# A task whose checks lean on another's code is judged after it: the closures before the
# expressions that combine them, the training loop before the zeroing inside it.
JUDGING_ORDER = tuple(t for t in TASK_IDS if t != "zero_grad") + ("zero_grad",)


def judge(seed: int, outcomes: dict[str, Outcome]) -> list[TaskResult]:
    """One TaskResult per rubric task, decided here from the seed and the reported numbers."""
    results: dict[str, TaskResult] = {}
    for task_id in JUDGING_ORDER:
        outcome = outcomes.get(task_id, Failure("not_run", "the task was not run"))
        checks = _checks(task_id, seed, outcome, results)
        results[task_id] = _result(task_id, checks)
    return [results[task_id] for task_id in TASK_IDS]


def _checks(task_id: str, seed: int, outcome: Outcome, earlier: dict[str, TaskResult]) -> list[tuple[str, bool, str]]:
    """(what was checked, passed, message) for each check of the task."""
    if isinstance(outcome, Failure):
        return [("the code ran", False, _failure_message(outcome))]
    cases = cases_for(task_id, seed)
    reports = outcome.data.get("cases") if isinstance(outcome.data, dict) else None
    if not isinstance(reports, list) or len(reports) != len(cases):
        return [("the worker reported", False, "the grader received no usable report for this task")]
    checks = []
    for k, (case, report) in enumerate(zip(cases, reports)):
        if not all(earlier[needed].passed for needed in case.get("needs", ())):
            continue  # it runs another task's code, which fails its own checks: see the module docstring of cases
        if not isinstance(report, dict):
            checks.append((f"case {k + 1}", False, "no usable report for this case"))
        elif "error" in report:
            checks.append((f"case {k + 1}", False, _raised(report["error"])))
        else:
            checks += _judge_case(task_id, case, report, cases, reports, k, earlier)
    return checks


def _judge_case(task_id, case, report, cases, reports, k, earlier) -> list[tuple[str, bool, str]]:
    try:
        kind = case["kind"]
        if kind == "op" and task_id == "grad_accumulation":
            if case.get("start") is None:
                return []  # the fresh run: the next case judges the pair
            fresh = reports[k - 1]
            if "error" in fresh:
                return [(f"{case['op']} accumulates", False, _raised(fresh["error"]))]
            if any(isinstance(g, float) and not math.isfinite(g) for g in fresh["grads"]):
                return []  # inf or nan from the op's own closure (its task says so): adding to it shows nothing
            return [(f"{case['op']} accumulates", *judge_accumulation(fresh, report, case))]
        if kind == "op":
            return [(f"{case['op']} case {k + 1}", *judge_op(case, report))]
        if kind == "expr":
            return [(case["expr"], *judge_expr(case, report))]
        if kind == "topo":
            return [(f"graph {k + 1}", *judge_topo(case, report))]
        if kind == "zero_grad_module":
            return [("Module.zero_grad", *judge_zero_grad_module(case, report))]
        if kind == "zero_grad_loop":
            return [("training zeroes the gradients", *judge_zero_grad_loop(case, report))]
        if kind == "train":
            checks = judge_train(case, report)
            if checks[-1][1]:
                return checks
            # Some data is harder: ask only what a correct loop reaches on it, less a margin.
            reachable = trusted.fit(case) - TRAIN_MARGIN
            return judge_train(case, report, target=min(case["target"], reachable))
    except (KeyError, TypeError, ValueError, IndexError, ZeroDivisionError, OverflowError):
        return [(f"case {k + 1}", False, "the report for this case was malformed")]
    raise KeyError(case["kind"])


def _raised(error: str) -> str:
    stub = "NotImplementedError: "
    return f"not written yet: {error.removeprefix(stub)}" if error.startswith(stub) else f"your code raised {error}"


def _failure_message(failure: Failure) -> str:
    detail = f" ({failure.detail})" if failure.detail else ""
    return {
        "error": _raised(failure.detail),
        "timeout": f"your code did not finish in time{detail}: look for an infinite loop",
        "memory": f"your code used more memory than allowed{detail}",
        "crash": f"your code stopped the process{detail}",
        "output": f"your code printed more than allowed{detail}",
        "not_run": f"this task could not be run{detail}",
        "grader": f"the grader failed on this task{detail}: tell your course staff",
    }.get(failure.kind, f"not graded: {failure.kind}{detail}")


def _result(task_id: str, checks: list[tuple[str, bool, str]]) -> TaskResult:
    task = BY_ID[task_id]
    passed = bool(checks) and all(ok for _, ok, _ in checks)
    failures = [message for _, ok, message in checks if not ok]
    n_ok = sum(1 for _, ok, _ in checks if ok)
    if passed:
        feedback = f"Passed all {len(checks)} checks."
    else:
        first = failures[0] if failures else ""
        feedback = f"Passed {n_ok} of {len(checks)} checks. {first[:1].upper()}{first[1:]}".strip()
    return TaskResult(task_id, float(task.points) if passed else 0.0, float(task.points), feedback,
                      [(label, ok) for label, ok, _ in checks])


__all__ = ["Observation", "cases_for", "judge", "observe"]
