"""Check cases as plain data: what to build, with which numbers, and for which task.

A case is a dict, so that it crosses from the parent to the worker (and into a notebook)
unchanged. Kinds:

- "op":    out = <op>(inputs); the kit seeds out.grad and runs the closures itself.
           With "start", the inputs' .grad start there instead of 0 (does the closure add?).
- "expr":  an expression of named variables, differentiated by the kit's own traversal.
- "topo":  a graph of + and * from a program; every closure is replaced by a recorder and
           the student's backward() is called.
- "zero_grad_module", "zero_grad_loop", "train": nn and train on a known model and data.

A case may name the tasks it `needs`: code of theirs that it runs. It is judged only when
those pass (their own checks say what is wrong), so one bug costs one task.

This module is shipped to students with the public checks.
"""

from __future__ import annotations

import ast
import math
import operator
import random
from typing import Any

# The ops of the graded closures: each one's forward on plain floats, for finite differences.
FORWARD = {
    "add": lambda a, b: a + b,
    "mul": lambda a, b: a * b,
    "pow": lambda a, p: a**p,
    "tanh": math.tanh,
    "exp": math.exp,
    "relu": lambda a: max(a, 0.0),
}
OP_TASK = {op: f"{op}_backward" for op in FORWARD}
OP_TEXT = {
    "add": "a + b",
    "mul": "a * b",
    "pow": "a ** {power}",
    "tanh": "a.tanh()",
    "exp": "a.exp()",
    "relu": "a.relu()",
}
INPUT_NAMES = ("a", "b")

# Expressions that use one value more than once: each gradient must be the sum of its uses.
# Next to each, the tasks whose closures it runs: it is judged only once those pass, so that a
# wrong closure costs its own task and not grad_accumulation too.
REPEATED = (
    ("a + a", ("add_backward",)),
    ("a * a", ("mul_backward",)),
    ("a ** 2 + a", ("pow_backward", "add_backward")),
    ("a.tanh() + a", ("tanh_backward", "add_backward")),
    ("a.exp() * a", ("exp_backward", "mul_backward")),
    ("a.relu() + a", ("relu_backward", "add_backward")),
    ("(a * b) + (a * b).tanh()", ("mul_backward", "tanh_backward", "add_backward")),  # a diamond: a*b feeds two ops
    ("a * b + a * a + b", ("mul_backward", "add_backward")),
)


def op_case(op: str, inputs: list[float], out_grad: float, power: float | None = None,
            start: list[float] | None = None) -> dict:
    case = {"kind": "op", "op": op, "inputs": inputs, "out_grad": out_grad}
    if power is not None:
        case["power"] = power
    if start is not None:
        case["start"] = start
    return case


def op_text(case: dict) -> str:
    return OP_TEXT[case["op"]].format(power=case.get("power"))


def moons(n: int, seed: int, noise: float = 0.1) -> tuple[list[list[float]], list[float]]:
    """Two interleaved half circles, labels -1 and +1: the checks' own copy of the demo data."""
    rng = random.Random(seed)
    xs, ys = [], []
    for i in range(n):
        angle = math.pi * (i // 2) / max(1, (n - 1) // 2)
        if i % 2:
            x, y, label = 1 - math.cos(angle), 0.5 - math.sin(angle), 1.0
        else:
            x, y, label = math.cos(angle), math.sin(angle), -1.0
        xs.append([x + rng.gauss(0, noise), y + rng.gauss(0, noise)])
        ys.append(label)
    return xs, ys


BINARY = {ast.Add: operator.add, ast.Mult: operator.mul, ast.Pow: operator.pow}


def evaluate(expr: str, variables: dict[str, Any], made: list | None = None) -> Any:
    """Run the kit's expression text (+, *, ** and .tanh(), .exp(), .relu()) on Values or on floats.

    Every op's result is appended to `made`, in the order the ops ran: each after its inputs.
    """
    def run(node: ast.AST) -> Any:
        if isinstance(node, ast.Name):
            return variables[node.id]
        if isinstance(node, (ast.Constant, ast.UnaryOp)):  # a number, such as the -1 of a ** -1
            return ast.literal_eval(node)
        if isinstance(node, ast.BinOp):
            result = BINARY[type(node.op)](run(node.left), run(node.right))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            x, name = run(node.func.value), node.func.attr
            result = FORWARD[name](x) if type(x) is float else getattr(x, name)()
        else:
            raise ValueError(f"the kit's expressions have no {type(node).__name__}")
        if made is not None:
            made.append(result)
        return result

    return run(ast.parse(expr, mode="eval").body)
