"""The numbers a correct solution gives, computed without one: finite differences of forward passes
(and, for a training step, backpropagation in numpy).

Only judges import this module, and only where the verdict is decided: the grader's worker
cannot import it at all (the sandbox closes the package before student code runs), so no
expected number and no gradient routine sits beside the code being judged.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from types import ModuleType

import numpy as np

from .course import HERE, in_use
from .numeric import evaluate, mlp_layers, moons

SHIPPED_ENGINE = HERE / "forward_engine.py"  # a release's copy of the starter's engine


def forward_engine() -> ModuleType:
    """The engine whose forward passes give every expected number, so that no op's formula is
    written twice: the course's reference, or in a student's release the starter's own engine
    (its closures are stubs; only its forward passes run here)."""
    reference = in_use().root / "solutions" / "micrograd" / "engine.py"
    return _engine(SHIPPED_ENGINE if SHIPPED_ENGINE.is_file() else reference)


@cache
def _engine(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("mgkit_checks_forward_engine", path)
    if spec is None or not path.is_file():
        raise FileNotFoundError(
            f"{path}: the engine whose forward passes the checks compare with is missing")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def forward(program: str, values: dict[str, float]) -> float:
    """The program's value at these inputs, by the forward engine."""
    Value = forward_engine().Value
    return evaluate(program, {name: Value(x) for name, x in values.items()}).data


def central_difference(f: Callable[..., float], args: Sequence[float], i: int) -> float:
    """d f / d args[i] by a central difference, with a step scaled to the argument."""
    h = 1e-6 * max(1.0, abs(args[i]))
    up, down = list(args), list(args)
    up[i] += h
    down[i] -= h
    return (f(*up) - f(*down)) / (2 * h)


def gradients(program: str, values: dict[str, float]) -> dict[str, float]:
    """d program / d each variable, by central differences of the program's forward pass."""
    names = list(values)

    def f(*args: float) -> float:
        return forward(program, dict(zip(names, args)))

    args = [values[name] for name in names]
    return {name: central_difference(f, args, i) for i, name in enumerate(names)}


# ---- one step of the training loop ------------------------------------------------------------

# d loss / d scores s of the losses the checks hand to train() (training.LOSS_FUNCTIONS), with
# labels y; at the hinge's kink micrograd's relu takes slope 0
SLOPES = {
    "squared": lambda s, y: 2 * (s - y) / len(s),
    "max_margin": lambda s, y: np.where(1.0 - y * s > 0, -y, 0.0) / len(s),
}


def training_gradient(case: dict, params: Sequence[float], loss: str, alpha: float) -> list[float]:
    """d (loss_fn + alpha * sum(p**2)) / d p on the case's moons, at these parameters, by
    backpropagation in numpy, with micrograd's slope 0 for a ReLU at 0.

    Not by finite differences, as the ops' gradients are: a pre-activation within a difference's
    step of a ReLU's kink gets neither side's slope, and the reference would fail (seed 345102:
    one step moved a bias to 0.00599, a central difference said 0.00713).
    """
    xs, ys = moons(case["points"], case["data_seed"])
    layers, scores = mlp_layers(list(params), [2, *case["nouts"]], np.array(xs))
    upstream = np.zeros_like(layers[-1][2])  # d loss / d each pre-activation of a layer
    upstream[:, 0] = SLOPES[loss](scores, np.array(ys))
    blocks = []
    for depth in reversed(range(len(layers))):
        block, inputs, pre = layers[depth]
        if depth < len(layers) - 1:
            upstream = upstream * (pre > 0)
        blocks.append(np.hstack([upstream.T @ inputs, upstream.sum(axis=0)[:, None]]).ravel())
        upstream = upstream @ block[:, :-1]
    data_term = np.concatenate(blocks[::-1])
    return [float(g + 2 * alpha * p) for g, p in zip(data_term, params)]


def training_step(case: dict, params: Sequence[float], lr: float, loss: str,
                  alpha: float) -> list[float]:
    """The parameters after one step of gradient descent on the case's moons: p - lr * d loss / d
    p."""
    return [p - lr * g for p, g in zip(params, training_gradient(case, params, loss, alpha))]


def two_steps(case: dict, params: Sequence[float], lr: float, loss: str,
              alpha: float) -> tuple[list, list]:
    """The parameters after two steps of descent in one loop: with the gradients zeroed before each
    backward pass, and with them piled up (a loop that never zeroes, which zero_grad judges)."""
    first = training_gradient(case, params, loss, alpha)
    middle = [p - lr * g for p, g in zip(params, first)]
    second = training_gradient(case, middle, loss, alpha)
    return ([p - lr * g for p, g in zip(middle, second)],
            [p - lr * (g + h) for p, g, h in zip(middle, first, second)])
