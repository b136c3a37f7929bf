"""The reference training code: two moons, the losses, the loop, and a demo run that must reach
97%."""

from __future__ import annotations

import gc
import math
import random

import numpy as np
import pytest

from autograder.reference import solution as reference

micrograd = reference.load()
train = micrograd.train
Value = micrograd.engine.Value


# --- make_moons
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("n_samples", [100, 7])
def test_make_moons_shapes_and_labels(n_samples):
    xs, ys = train.make_moons(n_samples, seed=0)
    assert xs.shape == (n_samples, 2) and ys.shape == (n_samples,)
    assert sorted(set(ys.tolist())) == [-1.0, 1.0]
    assert (ys == -1).sum() == n_samples // 2  # the top moon holds the smaller half


def test_make_moons_is_seeded():
    first, second, other = (train.make_moons(50, seed=seed) for seed in (3, 3, 4))
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
    assert not np.array_equal(first[0], other[0])


def test_make_moons_without_noise_lies_on_the_two_half_circles():
    xs, ys = train.make_moons(40, noise=0.0, seed=0)
    top, bottom = xs[ys == -1], xs[ys == 1]
    np.testing.assert_allclose(np.hypot(top[:, 0], top[:, 1]), 1.0)  # centred on (0, 0), upper half
    assert (top[:, 1] >= -1e-12).all()
    # centred on (1, 0.5), lower
    np.testing.assert_allclose(np.hypot(bottom[:, 0] - 1, bottom[:, 1] - 0.5), 1.0)
    assert (bottom[:, 1] <= 0.5 + 1e-12).all()


def test_make_moons_is_shuffled():
    _, ys = train.make_moons(100, seed=0)
    assert 0 < (ys[:50] == -1).sum() < 50


# --- losses and accuracy on small cases worked out by hand
# ----------------------------------------------

def test_mse_loss():
    scores = [Value(1.0), Value(-1.0)]
    loss = train.mse_loss(scores, [0.0, 1.0])
    loss.backward()
    assert loss.data == pytest.approx((1**2 + 2**2) / 2)
    assert [s.grad for s in scores] == pytest.approx([2 * 1 / 2, 2 * -2 / 2])


def test_max_margin_loss():
    scores = [Value(2.0), Value(0.5), Value(-1.0), Value(-3.0)]
    loss = train.max_margin_loss(scores, [1.0, 1.0, 1.0, -1.0])
    loss.backward()
    # relu(1 - y * score): 0 (beyond the margin), 0.5 (inside it), 2 (wrong side), 0 (beyond it)
    assert loss.data == pytest.approx(2.5 / 4)
    assert [s.grad for s in scores] == pytest.approx([0.0, -0.25, -0.25, 0.0])


def test_l2_penalty():
    parameters = [Value(1.0), Value(-2.0), Value(3.0)]
    penalty = train.l2_penalty(parameters, alpha=0.1)
    penalty.backward()
    assert penalty.data == pytest.approx(1.4)
    assert [p.grad for p in parameters] == pytest.approx([0.2, -0.4, 0.6])
    assert train.l2_penalty(parameters, alpha=0) == 0


def test_accuracy_counts_the_sign_of_the_score():
    scores = [Value(1.0), Value(-1.0), Value(0.5), Value(-0.2), Value(0.0)]
    assert train.accuracy(scores, [1.0, 1.0, -1.0, -1.0, -1.0]) == pytest.approx(3 / 5)


def test_demo_learning_rate_goes_from_1_to_0_1():
    assert train.demo_learning_rate(0, 100) == 1.0
    assert train.demo_learning_rate(100, 100) == pytest.approx(0.1)
    assert train.demo_learning_rate(50, 100) == pytest.approx(0.55)


# --- the loop
# -----------------------------------------------------------------------------------------

def _small_problem(seed: int = 0):
    xs, ys = train.make_moons(20, seed=seed)
    return micrograd.nn.MLP(2, [4, 1], rng=random.Random(seed)), xs, ys


def test_train_returns_one_loss_and_accuracy_per_step():
    model, xs, ys = _small_problem()
    seen = []
    history = train.train(model, xs, ys, steps=6, on_step=lambda *step: seen.append(step))
    assert len(history.losses) == len(history.accuracies) == 6
    assert seen == list(zip(range(6), history.losses, history.accuracies))
    assert all(0 <= a <= 1 for a in history.accuracies)
    assert history.losses[-1] < history.losses[0]


def test_train_measures_before_each_update():
    model, xs, ys = _small_problem()
    scores = [model(x) for x in xs.tolist()]
    expected = train.max_margin_loss(scores, ys.tolist()) + train.l2_penalty(model.parameters())
    history = train.train(model, xs, ys, steps=1)
    assert history.losses == [pytest.approx(expected.data)]
    assert history.accuracies == [train.accuracy(scores, ys.tolist())]


def test_train_takes_a_constant_learning_rate_and_another_loss():
    model, xs, ys = _small_problem()
    history = train.train(model, xs, ys, steps=5, learning_rate=0.05, loss_fn=train.mse_loss,
                          alpha=0)
    assert history.losses[-1] < history.losses[0]


def test_train_zeroes_the_gradients_every_step():
    # a learning rate of 0 leaves the model as it is: each step must then see the same gradients
    model, xs, ys = _small_problem()
    grads = []
    train.train(model, xs, ys, steps=3, learning_rate=0.0,
                on_step=lambda *_: grads.append([p.grad for p in model.parameters()]))
    assert grads[0] == grads[1] == grads[2]
    assert any(g != 0 for g in grads[0])


@pytest.mark.parametrize("learning_rate", [10.0, 100.0])
def test_a_diverging_run_stops_with_a_hint(learning_rate):
    model, xs, ys = _small_problem()
    with pytest.raises(ArithmeticError, match="smaller learning rate"):
        train.train(model, xs, ys, steps=30, learning_rate=learning_rate, loss_fn=train.mse_loss)


def test_a_nan_loss_stops_the_run():
    model, xs, ys = _small_problem()
    with pytest.raises(ArithmeticError, match="nan at step 0"):
        train.train(model, xs, ys, steps=3, loss_fn=lambda scores, ys: scores[0] * math.nan)


def test_train_collects_rarely_only_while_it_runs():
    model, xs, ys = _small_problem()
    before, during = gc.get_threshold(), []
    train.train(model, xs, ys, steps=2, on_step=lambda *_: during.append(gc.get_threshold()))
    assert during == [(1_000_000, *before[1:])] * 2 and gc.get_threshold() == before
    with pytest.raises(ArithmeticError):
        train.train(model, xs, ys, steps=3, loss_fn=lambda scores, ys: scores[0] * math.nan)
    assert gc.get_threshold() == before  # also after a run that stopped with an error
    gc.set_threshold(5_000_000, *before[1:])
    try:
        train.train(*_small_problem(), steps=1,
                    on_step=lambda *_: during.append(gc.get_threshold()))
        assert during[-1][0] == 5_000_000  # a caller's rarer setting stays
    finally:
        gc.set_threshold(*before)


# Measured for seed 1 (the `mgkit train` default): the final model is 97% right after 13 and 14
# steps, 98-99% for every budget from 15 to 36 steps (100% after 50). 15 steps take about 7 s.
DEMO_STEPS = 15


# the demo's claim, 15 steps of a 16-16 MLP on 100 points: the inner loop trains in the tests above
@pytest.mark.slow
def test_the_demo_reaches_97_percent():
    xs, ys = train.make_moons(100, noise=0.1, seed=1)
    model = micrograd.nn.MLP(2, [16, 16, 1], rng=random.Random(1))
    history = train.train(model, xs, ys, steps=DEMO_STEPS)
    final = train.accuracy([model(x) for x in xs.tolist()], ys.tolist())
    assert final >= 0.97, f"accuracy {final:.0%} after {DEMO_STEPS} steps; losses {history.losses}"
