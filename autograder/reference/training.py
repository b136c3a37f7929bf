"""`mgkit train`: train the reference MLP on two moons, with a progress bar and a picture."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from mgkit_checks.numeric import mlp_scores

from . import solution as reference
from .outputs import check_replaceable

LAYER_SIZES = [16, 16, 1]  # Karpathy's demo: MLP(2, [16, 16, 1])
PNG_SOFTWARE_TAG = "mgkit train"  # written into the PNG, so a rerun may replace its own picture


@dataclass(frozen=True)
class TrainResult:
    final_loss: float
    final_accuracy: float
    plot: Path


def run(steps: int, samples: int, seed: int, out: Path, overwrite: bool = False) -> TrainResult:
    """Train MLP(2, [16, 16, 1]) as in Karpathy's demo and save the loss curve and decision
    boundary."""
    check_replaceable(out, overwrite, lambda path: _png_software(path) == PNG_SOFTWARE_TAG)
    micrograd = reference.load()
    xs, ys = micrograd.train.make_moons(samples, noise=0.1, seed=seed)
    model = micrograd.nn.MLP(2, LAYER_SIZES, rng=random.Random(seed))
    with tqdm(total=steps, desc=f"training {model}", unit="step") as bar:
        def on_step(step: int, loss: float, accuracy: float) -> None:
            bar.set_postfix(loss=f"{loss:.4f}", accuracy=f"{accuracy:.0%}")
            bar.update()

        history = micrograd.train.train(model, xs, ys, steps=steps, on_step=on_step)
    _plot(model, xs, ys, history, out)
    return TrainResult(history.losses[-1], history.accuracies[-1], out)


def _png_software(path: Path) -> str | None:
    from PIL import Image  # matplotlib's own dependency

    try:
        with Image.open(path) as image:
            return image.info.get("Software")
    except OSError:
        return None


def _plot(model, xs: np.ndarray, ys: np.ndarray, history, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # a file, not a window: works on a machine with no screen
    import matplotlib.pyplot as plt

    figure, (curve, boundary) = plt.subplots(1, 2, figsize=(11, 4.5))
    curve.plot(history.losses, label="loss")
    curve.plot(history.accuracies, label="accuracy")
    curve.set(xlabel="step", title="training", ylim=(0, max(1.05, max(history.losses[:5],
                                                                      default=1))))
    curve.legend()

    # the model's score on a grid: its sign is the predicted class
    low, high = xs.min(axis=0) - 0.5, xs.max(axis=0) + 0.5
    gx, gy = np.meshgrid(np.linspace(low[0], high[0], 200), np.linspace(low[1], high[1], 200))
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1)
    scores = mlp_scores([p.data
                         for p in model.parameters()], [2, *LAYER_SIZES], grid).reshape(gx.shape)
    boundary.contourf(gx, gy, scores > 0, cmap="Spectral", alpha=0.8)
    boundary.scatter(xs[:, 0], xs[:, 1], c=ys, s=30, cmap="Spectral", edgecolors="black")
    boundary.set(title=f"decision boundary, accuracy {history.accuracies[-1]:.0%}", xlabel="x1",
                 ylabel="x2")

    figure.tight_layout()
    figure.savefig(out, dpi=100, metadata={"Software": PNG_SOFTWARE_TAG})
    plt.close(figure)
