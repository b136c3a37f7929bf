"""The public checks: a few fixed cases per task, run on the student's own code by their pytest.

    from mgkit_checks.public import check
    message = check("mul_backward")   # None when the task's public checks pass

They use the same probes and verdicts as the hidden checks, on fewer, fixed numbers. The hidden
checks decide the grade. Shipped to students.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import traceback
from types import ModuleType, SimpleNamespace

from .cases import op_case
from .probes import BuiltFromOtherOps, probe, student_target
from .verdicts import (
    judge_accumulation,
    judge_expr,
    judge_op,
    judge_topo,
    judge_train,
    judge_zero_grad_loop,
    judge_zero_grad_module,
)

DIAMOND = {"kind": "topo", "leaves": [1.5, -0.5], "program": [["*", 0, 1], ["+", 2, 0], ["*", 2, 3]], "output": 4}
SMALL_GRAPH = {"kind": "topo", "leaves": [0.5, -1.0, 2.0],
               "program": [["+", 0, 1], ["*", 3, 2], ["*", 3, 4], ["+", 5, 0], ["*", 6, 4], ["+", 7, 3]], "output": 8}
CHAIN = {"kind": "topo", "leaves": [0.9], "program": [["+", k, 0] for k in range(50)], "output": 50}

PUBLIC_CASES: dict[str, list[dict]] = {
    "add_backward": [op_case("add", [-1.5, 0.75], 2.0), op_case("add", [0.3, 2.0], -0.5)],
    "mul_backward": [op_case("mul", [-1.5, 0.75], 2.0), op_case("mul", [2.0, -0.5], -1.5)],
    "pow_backward": [op_case("pow", [1.5], 2.0, power=2), op_case("pow", [-0.8], 0.5, power=-1),
                     op_case("pow", [2.0], 1.5, power=0.5)],
    "tanh_backward": [op_case("tanh", [0.8], -1.5), op_case("tanh", [-0.3], 2.0)],
    "exp_backward": [op_case("exp", [-0.6], 1.7), op_case("exp", [1.2], 0.5)],
    "relu_backward": [op_case("relu", [1.3], 0.5), op_case("relu", [-0.7], 2.0)],
    "grad_accumulation": [
        op_case("add", [-1.5, 0.75], 2.0, start=[0.5, -1.0]),
        op_case("mul", [-1.5, 0.75], 2.0, start=[0.5, -1.0]),
        {"kind": "expr", "expr": "a + a", "needs": ["add_backward"], "vars": {"a": 0.7}},
        {"kind": "expr", "expr": "a * a", "needs": ["mul_backward"], "vars": {"a": -1.2}},
        {"kind": "expr", "expr": "(a * b) + (a * b).tanh()", "needs": ["mul_backward", "tanh_backward", "add_backward"],
         "vars": {"a": 0.6, "b": -0.9}},
    ],
    "topo_sort": [DIAMOND, SMALL_GRAPH, CHAIN],
    "zero_grad": [{"kind": "zero_grad_module"},
                  {"kind": "zero_grad_loop", "needs": ["training_loop"], "points": 12, "nouts": [4, 1],
                   "data_seed": 3, "model_seed": 4}],
    "training_loop": [{"kind": "train", "points": 20, "nouts": [6, 1], "steps": 20, "lr": 0.5, "target": 0.7,
                       "data_seed": 1, "model_seed": 2}],
}
ON_YOUR_ENGINE = ("zero_grad", "training_loop")  # public checks of nn and train run on the student's own engine
ON_YOUR_ENGINE_NOTE = " (this public check runs on your own engine: if an engine task fails, fix it first)"


class NotJudgedHere(str):
    """The message of a task the public checks cannot judge on this code (the hidden checks can)."""


def check(task_id: str, package: ModuleType | None = None) -> str | None:
    """None when every public check of the task passes, else what went wrong, in words to act on."""
    note = ON_YOUR_ENGINE_NOTE if task_id in ON_YOUR_ENGINE else ""
    try:
        target = student_target(package or _import_student_package(task_id))
        for case in PUBLIC_CASES[task_id]:
            message = _check_case(task_id, case, target, package)
            if message:
                return f"{task_id}: {message}{note}"
    except NotImplementedError as error:
        hint = str(error).removeprefix(f"{task_id}: ")  # the stub names its task already
        return f"{task_id}: not written yet{': ' + hint if hint else ''}{_where(error)}"
    except BuiltFromOtherOps as error:
        return NotJudgedHere(f"{task_id}: {error}")
    except SyntaxError as error:  # its message names the file and line already
        return f"{task_id}: your code does not compile: {error}"
    except Exception as error:  # the student's code: any mistake becomes a message, not a traceback
        return f"{task_id}: your code raised {type(error).__name__}: {error}{_where(error)}{note}"
    return None


def _check_case(task_id: str, case: dict, target, package: ModuleType | None) -> str:
    kind = case["kind"]
    if kind == "op" and "start" in case:  # accumulation: the same closure from 0 and from start
        fresh = probe({**case, "start": None}, target)
        return judge_accumulation(fresh, probe(case, target), case)[1]
    if any(check(needed, package) for needed in case.get("needs", ())):
        return ""  # it runs another task's code, which fails first: fix that, then this case is judged
    report = probe(case, target)
    if kind == "train":
        failures = [message for _, ok, message in judge_train(case, report) if not ok]
        return failures[0] if failures else ""
    judge = {"op": judge_op, "expr": judge_expr, "topo": judge_topo, "zero_grad_module": judge_zero_grad_module,
             "zero_grad_loop": judge_zero_grad_loop}[kind]
    return judge(case, report)[1]


def _import_student_package(task_id: str) -> SimpleNamespace:
    """The student's modules this task needs: a broken nn.py must not fail the engine's tasks."""
    try:
        importlib.import_module("micrograd")
    except Exception:  # e.g. nn.py does not compile: the engine's tasks can still be checked
        spec = importlib.util.find_spec("micrograd")
        if spec is None or not spec.submodule_search_locations:
            raise ImportError("no micrograd package here: run pytest from the folder that holds micrograd/") from None
        package = sys.modules["micrograd"] = ModuleType("micrograd")
        package.__path__ = list(spec.submodule_search_locations)
    names = ("engine", "nn", "train") if task_id in ON_YOUR_ENGINE else ("engine",)
    return SimpleNamespace(**{name: importlib.import_module(f"micrograd.{name}") for name in names},
                           **dict.fromkeys({"engine", "nn", "train"} - set(names)))


def _where(error: BaseException) -> str:
    """Where in the student's files the error happened, if it did there."""
    frames = [f for f in traceback.extract_tb(error.__traceback__)
              if "/micrograd/" in f.filename.replace("\\", "/")]  # the package's folder, not micrograd_lab/
    if isinstance(error, SyntaxError) and error.filename:
        return f" ({error.filename.rsplit('/', 1)[-1]}, line {error.lineno})"
    return f" ({frames[-1].filename.rsplit('/', 1)[-1]}, line {frames[-1].lineno})" if frames else ""
