"""The numbers every check handles: reading them safely, comparing them, and the kit's expressions.

Numbers are read through `plain`, never through the student's own __float__ or __eq__, and
compared with `close`, never with exact float equality.
"""

from __future__ import annotations

import ast
import math
import operator
import random
from typing import Any

import numpy as np

RTOL = 1e-4  # relative: a correct closure agrees with a central difference to ~1e-9
ATOL = 1e-6  # for gradients that should be 0

BINARY = {
    ast.Add: operator.add,
    ast.Mult: operator.mul,
    ast.Pow: operator.pow,
    ast.Sub: operator.sub,
    ast.Div: operator.truediv
}


def close(got: object, want: float) -> bool:
    if not isinstance(got, float):
        return False
    if math.isnan(want):
        return math.isnan(got)
    # else an infinite gradient is within inf * RTOL of anything
    if math.isinf(got) or math.isinf(want):
        return got == want
    return abs(got - want) <= ATOL + RTOL * max(abs(want), abs(got))


def all_close(got: list, want: list) -> bool:
    return len(got) == len(want) and all(close(g, w) for g, w in zip(got, want))


_NUMPY_SCALARS = frozenset(t for t in np.sctypeDict.values()
                           if issubclass(t, (np.floating, np.integer, np.bool_)))


def plain(x: Any) -> float | dict:
    """A float from an int, a float or a numpy scalar; anything else is reported by its type
    name."""
    if type(x) in (int, float, bool):
        return float(x)
    if type(x) in _NUMPY_SCALARS or (type(x) is np.ndarray and x.shape == () and
                                     type(x.item()) in (int, float, bool)):
        return float(x.item())  # numpy's own types only, never a subclass with rigged methods
    return {"not_a_number": type(x).__name__}


def show(x: object) -> str:
    if isinstance(x, dict) and "not_a_number" in x:
        return f"a {x['not_a_number']} (not a number)"
    return f"{x:.6g}" if isinstance(x, float) else repr(x)


def away_from_zero(rng: random.Random, low: float, high: float) -> float:
    """A number with |x| in [low, high] and a random sign: negative and fractional inputs
    included."""
    return rng.choice((-1, 1)) * rng.uniform(low, high)


def evaluate(program: str, variables: dict[str, Any], made: list | None = None) -> Any:
    """Run the kit's expression text on Values: +, *, ** and methods such as .tanh() (course.toml's
    ops).

    `program` is one expression, or assignments then an expression ("c = a * b; c + c.tanh()"),
    so that one node can feed two ops. Every op's result is appended to `made` in the order
    the ops ran: each after its inputs.
    """
    names = dict(variables)

    def run(node: ast.AST) -> Any:
        if isinstance(node, ast.Name):
            return names[node.id]
        if isinstance(node, (ast.Constant, ast.UnaryOp)):  # a number, such as the -1 of a ** -1
            return ast.literal_eval(node)
        if isinstance(node, ast.BinOp):
            result = BINARY[type(node.op)](run(node.left), run(node.right))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            x, method = run(node.func.value), node.func.attr
            result = getattr(x, method)()
        else:
            raise ValueError(f"the kit's expressions have no {type(node).__name__}")
        if made is not None:
            made.append(result)
        return result

    *assignments, last = ast.parse(program).body
    for statement in assignments:
        names[statement.targets[0].id] = run(statement.value)
    return run(last.value)


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


def mlp_layers(params: list[float], sizes: list[int],
               xs: np.ndarray) -> tuple[list[tuple[np.ndarray, ...]], np.ndarray]:
    """An MLP of these layer sizes (ReLU hidden, linear last) on each row of xs, computed with
    numpy from its parameters in micrograd's order (per neuron: weights, then bias): each layer's
    (weights and bias, input, pre-activation), and the first output.

    Each pre-activation is summed as micrograd's Neuron sums it (the bias, then w_i * x_i in turn),
    so a ReLU sees the very number the engine's does, down to the last bit.
    """
    layers, acts, position = [], np.asarray(xs, dtype=float), 0
    for depth, (nin, nout) in enumerate(zip(sizes, sizes[1:])):
        block = np.array(params[position : position + nout * (nin + 1)]).reshape(nout, nin + 1)
        position += nout * (nin + 1)
        pre = np.tile(block[:, nin], (len(acts), 1))
        for i in range(nin):
            pre = pre + acts[:, i : i + 1] * block[:, i]
        layers.append((block, acts, pre))
        acts = pre if depth == len(sizes) - 2 else np.maximum(pre, 0.0)
    return layers, acts[:, 0]


def mlp_scores(params: list[float], sizes: list[int], xs: np.ndarray) -> np.ndarray:
    """The first output of the MLP (mlp_layers) for each row of xs."""
    return mlp_layers(params, sizes, xs)[1]


FUNCTIONS = {
    "exp": math.exp,
    "log": math.log,
    "tanh": math.tanh,
    "abs": abs,
    "max": max,
    "min": min
}
COMPARE = {ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Lt: operator.lt, ast.LtE: operator.le}


def formula(text: str, names: dict[str, float]) -> float:
    """The value of a course's mistake formula ("(1 - tanh(a) ** 2) * g"), on floats: + - * / **,
    comparisons (1.0 or 0.0), the functions of FUNCTIONS and the given names; nothing else runs."""

    def run(node: ast.AST) -> float:
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return float(node.value)
        if isinstance(node, ast.Name):
            return names[node.id]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -run(node.operand)
        if isinstance(node, ast.BinOp) and type(node.op) in BINARY:
            return BINARY[type(node.op)](run(node.left), run(node.right))
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in COMPARE:
            return float(COMPARE[type(node.ops[0])](run(node.left), run(node.comparators[0])))
        if isinstance(node, ast.Call) and isinstance(node.func,
                                                     ast.Name) and node.func.id in FUNCTIONS:
            return float(FUNCTIONS[node.func.id](*(run(arg) for arg in node.args)))
        raise ValueError(f"a mistake's formula has no {ast.unparse(node)}")

    value = run(ast.parse(text, mode="eval").body)
    # a negative base to a fractional power
    return math.nan if isinstance(value, complex) else value
