"""Probes: build what a case asks for with the student's code, and report plain numbers.

This is the only part of the checks that runs beside student code (in the grader's worker, or
in the student's own pytest). It reports what happened and never decides a verdict. Numbers are
read through `plain`, never through the student's own __float__ or __eq__.

Shipped to students with the public checks.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from .cases import INPUT_NAMES, evaluate, moons, op_text


class BuiltFromOtherOps(Exception):
    """An op of the student's is built from other ops, which only a full traversal can follow."""


def backward_in_creation_order(out: Any, out_grad: float, created: list) -> None:
    """Seed `out` and call the closures of the nodes the kit made, newest first.

    The kit made each node after its inputs, so newest first is an order in which every
    node's gradient is complete before its closure runs. It is not a sort of any graph:
    an op that makes nodes of its own (tanh built from exp) raises BuiltFromOtherOps.
    """
    made = {id(node) for node in created}
    for node in created:
        if any(id(child) not in made and tuple(child._prev) for child in tuple(node._prev)):
            raise BuiltFromOtherOps(
                "your op is built from other ops; the public checks call each op's own closure only, "
                "so they cannot judge it here (the hidden checks can)"
            )
    out.grad = out_grad
    for node in reversed(created):
        node._backward()


@dataclass
class Target:
    """The code under test: a Value class, the nn and train modules, and how to make a model.

    `backward(out, out_grad, created)` runs the closures without the student's backward():
    the public checks call them in creation order, the grader follows any graph.
    """

    Value: type
    nn: ModuleType | None = None
    train: ModuleType | None = None
    make_model: Callable[[list[int], int], Any] | None = None
    backward: Callable[[Any, float, list], None] = backward_in_creation_order
    grad_of: Callable[[Any], Any] = lambda p: p.grad  # the grader reads it as the last backward() left it


def student_target(package: ModuleType) -> Target:
    """A target made only of the student's own package (what their pytest uses)."""

    def make_model(nouts: list[int], seed: int) -> Any:
        random.seed(seed)  # the starter's Neuron draws its weights from the module's generator
        return package.nn.MLP(2, nouts)

    return Target(package.engine.Value, package.nn, package.train, make_model)


_NUMPY_SCALARS = frozenset(t for t in np.sctypeDict.values() if issubclass(t, (np.floating, np.integer, np.bool_)))


def plain(x: Any) -> float | dict:
    """A float from an int, a float or a numpy scalar; anything else is reported by its type name."""
    if type(x) in (int, float, bool):
        return float(x)
    if type(x) in _NUMPY_SCALARS or (type(x) is np.ndarray and x.shape == () and type(x.item()) in (int, float, bool)):
        return float(x.item())  # numpy's own types only, never a subclass with rigged methods
    return {"not_a_number": type(x).__name__}


def probe(case: dict, target: Target) -> dict:
    """Run one case against the target; plain numbers out."""
    return _PROBES[case["kind"]](case, target)


def _probe_op(case: dict, target: Target) -> dict:
    leaves = [target.Value(x) for x in case["inputs"]]
    for leaf, grad in zip(leaves, case.get("start") or []):
        leaf.grad = grad
    made = list(leaves)
    out = evaluate(op_text(case), dict(zip(INPUT_NAMES, leaves)), made)
    target.backward(out, case["out_grad"], made)
    return {"out": plain(out.data), "grads": [plain(leaf.grad) for leaf in leaves]}


def _probe_expr(case: dict, target: Target) -> dict:
    variables = {name: target.Value(x) for name, x in case["vars"].items()}
    created = list(variables.values())
    out = evaluate(case["expr"], variables, created)
    target.backward(out, 1.0, created)
    return {"out": plain(out.data), "grads": {name: plain(v.grad) for name, v in variables.items()}}


def _probe_topo(case: dict, target: Target) -> dict:
    nodes = [target.Value(x) for x in case["leaves"]]
    for op, i, j in case["program"]:
        nodes.append(nodes[i] + nodes[j] if op == "+" else nodes[i] * nodes[j])
    output = case["output"]
    calls: list[int] = []
    seed: list = []

    def recorder(index: int, node: Any) -> Callable[[], None]:
        def record() -> None:
            calls.append(index)
            if index == output:
                seed.append(plain(node.grad))
        return record

    for index, node in enumerate(nodes):
        node._backward = recorder(index, node)
    nodes[output].backward()
    return {"calls": calls, "seed": seed[0] if seed else None}


def _probe_zero_grad_module(case: dict, target: Target) -> dict:
    mlp = target.nn.MLP(3, [4, 4, 1])
    params = mlp.parameters()
    for k, p in enumerate(params):
        p.grad = 0.5 + k
    mlp.zero_grad()

    class Pair(target.nn.Module):  # any Module: zero_grad must go through parameters()
        def __init__(self) -> None:
            self.a, self.b = target.Value(1.0), target.Value(2.0)

        def parameters(self) -> list:
            return [self.a, self.b]

    pair = Pair()
    pair.a.grad, pair.b.grad = 3.0, -4.0
    pair.zero_grad()
    return {"count": len(params), "grads": [plain(p.grad) for p in params],
            "custom": [plain(pair.a.grad), plain(pair.b.grad)]}


def _probe_zero_grad_loop(case: dict, target: Target) -> dict:
    """Train with learning rate 0 for 1 and for 2 steps: zeroed gradients come out the same."""
    xs, ys = moons(case["points"], case["data_seed"])
    grads = {}
    for steps in (1, 2):
        model = target.make_model(case["nouts"], case["model_seed"])
        target.train.train(model, xs, ys, steps=steps, learning_rate=0.0)
        grads[str(steps)] = [plain(target.grad_of(p)) for p in model.parameters()]
    return grads


def _probe_train(case: dict, target: Target) -> dict:
    xs, ys = moons(case["points"], case["data_seed"])
    model = target.make_model(case["nouts"], case["model_seed"])
    before = [plain(p.data) for p in model.parameters()]
    target.train.train(model, xs, ys, steps=1, learning_rate=case["lr"])
    after = [plain(p.data) for p in model.parameters()]
    grads = [plain(target.grad_of(p)) for p in model.parameters()]

    model = target.make_model(case["nouts"], case["model_seed"])
    history = target.train.train(model, xs, ys, steps=case["steps"], learning_rate=case["lr"])
    losses = [plain(loss) for loss in getattr(history, "losses", [])]
    return {"before": before, "after": after, "grads": grads, "losses": losses,
            "final": [plain(p.data) for p in model.parameters()]}


_PROBES = {
    "op": _probe_op,
    "expr": _probe_expr,
    "topo": _probe_topo,
    "zero_grad_module": _probe_zero_grad_module,
    "zero_grad_loop": _probe_zero_grad_loop,
    "train": _probe_train,
}
