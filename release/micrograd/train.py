"""Training an MLP by gradient descent: the loop from the lecture, on the two-moons data.

    from micrograd.nn import MLP
    from micrograd.train import make_moons, train

    xs, ys = make_moons(100, noise=0.1, seed=1)
    model = MLP(2, [16, 16, 1])
    history = train(model, xs, ys, steps=100)
    print(history.losses[-1], history.accuracies[-1])

`train` takes any model that maps a list of numbers to one `Value` score, and a loss
function `loss_fn(scores, ys)`; the defaults are those of Karpathy's demo notebook.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from .engine import Value
from .nn import Module

Loss = Callable[[Sequence[Value], Sequence[float]], Value]


def make_moons(n_samples: int = 100, noise: float = 0.1,
               seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles, labelled -1 and +1 (scikit-learn's make_moons, in numpy).

    Returns `xs` of shape (n_samples, 2) and `ys` of shape (n_samples,), shuffled.
    """
    rng = np.random.default_rng(seed)
    n_top = n_samples // 2
    n_bottom = n_samples - n_top
    top = np.linspace(0, np.pi, n_top)
    bottom = np.linspace(0, np.pi, n_bottom)
    xs = np.concatenate([
        np.stack([np.cos(top), np.sin(top)], axis=1),
        np.stack([1 - np.cos(bottom), 0.5 - np.sin(bottom)], axis=1),
    ])
    ys = np.concatenate([-np.ones(n_top), np.ones(n_bottom)])
    xs += rng.normal(scale=noise, size=xs.shape)
    order = rng.permutation(n_samples)
    return xs[order], ys[order]


def mse_loss(scores: Sequence[Value], ys: Sequence[float]) -> Value:
    """Mean squared error, as in the lecture."""
    return sum((score - y) ** 2 for score, y in zip(scores, ys)) / len(ys)


def max_margin_loss(scores: Sequence[Value], ys: Sequence[float]) -> Value:
    """The "SVM" loss of Karpathy's demo: mean of relu(1 - y * score), for labels y = -1 or +1.

    A point costs nothing once it is on the right side with a margin of 1.
    """
    return sum((1 - y * score).relu() for score, y in zip(scores, ys)) / len(ys)


def l2_penalty(parameters: Sequence[Value], alpha: float = 1e-4) -> Value | float:
    """alpha * the sum of squared parameters: keeps weights small (the demo's regularisation)."""
    return alpha * sum(p * p for p in parameters) if alpha else 0.0


def accuracy(scores: Sequence[Value], ys: Sequence[float]) -> float:
    """The fraction of points whose score has the sign of their label."""
    return sum((score.data > 0) == (y > 0) for score, y in zip(scores, ys)) / len(ys)


def demo_learning_rate(step: int, steps: int) -> float:
    """The demo's schedule: 1.0 at the start, down in a straight line to 0.1 at the end."""
    return 1.0 - 0.9 * step / steps


@dataclass
class History:
    """What `train` measured at each step, before that step's update."""

    losses: list[float] = field(default_factory=list)
    accuracies: list[float] = field(default_factory=list)


@contextmanager
def _rare_automatic_collection() -> Iterator[None]:
    """Python's collector runs after a million new objects, not 700, inside; as it was, after."""
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], 1_000_000), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


# Each node of a graph is a reference cycle (out and its _backward) that only the garbage collector
# frees: run every 700 new objects, it would scan a step's growing graph again and again, so each
# step frees its own.
@_rare_automatic_collection()
def train(
    model: Module,
    xs: Sequence[Sequence[float]],
    ys: Sequence[float],
    steps: int = 100,
    learning_rate: float | Callable[[int, int], float] = demo_learning_rate,
    loss_fn: Loss = max_margin_loss,
    alpha: float = 1e-4,
    on_step: Callable[[int, float, float], None] | None = None,
) -> History:
    """Fit `model` to the points `xs` with labels `ys` by full-batch gradient descent.

    `learning_rate` is a number or a schedule `f(step, steps)`; `alpha` weighs the L2 term
    (0 turns it off); `on_step(step, loss, accuracy)` is called after every step.
    Returns the loss and accuracy of every step.
    """
    xs = np.asarray(xs, dtype=float).tolist()
    ys = np.asarray(ys, dtype=float).tolist()
    history = History()
    for step in range(steps):
        lr = learning_rate(step, steps) if callable(learning_rate) else learning_rate

        # 1) zero the gradients (backward() adds to .grad, so last step's would pile up),
        # 2) forward: `scores`, 3) `loss` (the lines after this step read both), 4) backward,
        # 5) update: a small step against the gradient
        raise NotImplementedError("training_loop: zero the gradients, compute scores and the loss, "
                                  "call loss.backward(), then move every parameter against its "
                                  "gradient")

        if not math.isfinite(loss.data):
            raise ArithmeticError(f"the loss became {loss.data} at step {step}: check that the "
                                  "update moves against the gradient, then try a smaller "
                                  "learning rate")
        history.losses.append(loss.data)
        history.accuracies.append(accuracy(scores, ys))
        if on_step:
            on_step(step, history.losses[-1], history.accuracies[-1])

        del scores, loss
        gc.collect(0)  # this step's graph, in one sweep of the young objects alone
    return history
