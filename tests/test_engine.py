"""The reference engine: gradients against central finite differences, its edge cases, draw_dot."""

from __future__ import annotations

import math
import re
import subprocess
import sys
import warnings
from collections.abc import Callable
from typing import NamedTuple

import graphviz
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from autograder.reference import solution as reference

engine = reference.load().engine
Value = engine.Value


# --- random expressions mixing every op, checked against central finite differences -------------

MARGIN = 0.2  # how far an operand stays from a pole, a zero base or the relu kink
LIMIT = 1e3  # the largest intermediate allowed, so finite differences keep their precision
EXP_MAX = 5.0  # exp only of arguments up to this
EXPONENTS = (2, 3, -1, 0.5, -2, 1.5, 0)
CONSTANTS = (-3.0, -1.5, -0.5, 0.5, 2.0, 3.0)  # never 0: `a / c` needs it
FD_STEP = 1e-6


class Op(NamedTuple):
    template: str  # how the op is written, with {a}, {b} (operands) and {c} (a plain number)
    apply: Callable  # (a, b, c) -> result, for Values and for floats alike
    valid: Callable = lambda a, b, c: True  # (a, b, c) as floats -> may the op be applied here?


def _method(name: str, on_float: Callable[[float], float]) -> Callable:
    return lambda a, b, c: getattr(a, name)() if isinstance(a, Value) else on_float(a)


def _pow_domain(p: float) -> Callable:
    if p != int(p):
        return lambda a, b, c: a >= MARGIN  # a fractional power needs a positive base
    if p <= 0:
        return lambda a, b, c: abs(a) >= MARGIN  # a pole at 0 (and 0 ** 0's derivative)
    return lambda a, b, c: True


OPS = (
    Op("({a} + {b})", lambda a, b, c: a + b),
    Op("({a} - {b})", lambda a, b, c: a - b),
    Op("({a} * {b})", lambda a, b, c: a * b),
    Op("({a} / {b})", lambda a, b, c: a / b, lambda a, b, c: abs(b) >= MARGIN),
    Op("({a} + {c})", lambda a, b, c: a + c),
    Op("({a} - {c})", lambda a, b, c: a - c),
    Op("({a} * {c})", lambda a, b, c: a * c),
    Op("({a} / {c})", lambda a, b, c: a / c),
    Op("({c} + {a})", lambda a, b, c: c + a),
    Op("({c} - {a})", lambda a, b, c: c - a),
    Op("({c} * {a})", lambda a, b, c: c * a),
    Op("({c} / {a})", lambda a, b, c: c / a, lambda a, b, c: abs(a) >= MARGIN),
    Op("-{a}", lambda a, b, c: -a),
    Op("{a}.tanh()", _method("tanh", math.tanh)),
    Op("{a}.exp()", _method("exp", math.exp), lambda a, b, c: a <= EXP_MAX),
    Op("{a}.relu()", _method("relu", lambda a: max(a, 0.0)), lambda a, b, c: abs(a) >= MARGIN),
    *(Op(f"({{a}} ** {p})", lambda a, b, c, p=p: a**p, _pow_domain(p)) for p in EXPONENTS),
)


class OutOfDomain(Exception):
    """A finite-difference point crossed a pole, a kink or a domain edge: the example is void."""


def evaluate(tree: tuple, xs: list, memo: dict | None = None) -> Value | float:
    """The expression `tree` at the inputs `xs` (Values or floats), checking every op's domain for
    floats.

    A subtree that appears twice is computed once (memo), so the Value graph shares that node.
    """
    memo = {} if memo is None else memo
    if tree[0] == "x":
        return xs[tree[1]]
    if id(tree) not in memo:
        op, left, right, c = tree
        a = evaluate(left, xs, memo)
        b = evaluate(right, xs, memo) if right else None
        if not isinstance(a, Value) and not op.valid(a, b, c):
            raise OutOfDomain(describe(tree))
        memo[id(tree)] = op.apply(a, b, c)
    return memo[id(tree)]


def describe(tree: tuple) -> str:
    if tree[0] == "x":
        return f"x{tree[1]}"
    op, left, right, c = tree
    return op.template.format(a=describe(left), b=describe(right) if right else "", c=c)


def _grow(draw: Callable, xs: list[float], depth: int, root: bool = False) -> tuple[tuple, float]:
    """A random expression and its value at xs; each op is drawn among those valid for its
    operands."""
    if depth == 0 or (not root and draw(st.integers(0, 3)) == 0):  # shrinks towards a variable
        i = draw(st.integers(0, len(xs) - 1))
        return ("x", i), xs[i]
    left, a = _grow(draw, xs, depth - 1)
    # sometimes both operands are one node, so a value that is not a leaf feeds several ops
    right, b = (left, a) if draw(st.integers(0, 3)) == 0 else _grow(draw, xs, depth - 1)
    c = draw(st.sampled_from(CONSTANTS))
    usable = [op for op in OPS if op.valid(a, b, c) and abs(op.apply(a, b, c)) <= LIMIT]
    op = draw(st.sampled_from(usable))  # never empty: tanh is always usable
    uses_b = "{b}" in op.template
    return (op, left, right if uses_b else None, c), op.apply(a, b, c)


@st.composite
def expressions(draw: Callable, max_depth: int = 4) -> tuple[tuple, list[float]]:
    n_vars = draw(st.integers(1, 3))
    xs = draw(st.lists(st.floats(-2.0, 2.0), min_size=n_vars, max_size=n_vars))
    tree, _ = _grow(draw, xs, max_depth, root=True)
    return tree, xs


def central_differences(tree: tuple, xs: list[float]) -> np.ndarray:
    """d tree / d x_i by (f(x + h e_i) - f(x - h e_i)) / 2h, in plain float arithmetic."""
    x = np.array(xs)
    steps = FD_STEP * np.maximum(1.0, np.abs(x))
    grads = []
    for i, h in enumerate(steps):
        shift = np.zeros_like(x)
        shift[i] = h
        grads.append(
            (evaluate(tree, (x + shift).tolist()) - evaluate(tree, (x - shift).tolist())) / (2 * h))
    return np.array(grads)


@settings(max_examples=300, deadline=None)
@given(expressions())
def test_gradients_agree_with_central_differences(example):
    tree, xs = example
    try:
        numeric = central_differences(tree, xs)
    except OutOfDomain:
        assume(False)  # a shifted point left the domain: rare, and no evidence either way
    leaves = [Value(x) for x in xs]
    out = evaluate(tree, leaves)
    out.backward()
    expected = evaluate(tree, xs)
    assert out.data == pytest.approx(expected, rel=1e-12, abs=1e-12), describe(tree)
    analytic = np.array([leaf.grad for leaf in leaves])
    # rounding in the differences grows with |f| / h; truncation with the step squared
    np.testing.assert_allclose(analytic, numeric, rtol=1e-4, atol=1e-6 * max(1.0, abs(expected)),
                               err_msg=f"{describe(tree)} at {xs}")


# --- a value used more than once: the gradients must add up ---------------------------------------

def _diamond(a):
    b = a.exp()
    return b * b + b  # b feeds two ops, and b itself is not a leaf


REPEATED = {
    "a + a": (lambda a: a + a, lambda x: 2.0),
    "a - a": (lambda a: a - a, lambda x: 0.0),
    "a * a": (lambda a: a * a, lambda x: 2 * x),
    "a / a": (lambda a: a / a, lambda x: 0.0),
    "-a * a": (lambda a: -a * a, lambda x: -2 * x),
    "x**2 + x": (lambda a: a**2 + a, lambda x: 2 * x + 1),
    "x.tanh() + x": (lambda a: a.tanh() + a, lambda x: 2 - math.tanh(x) ** 2),
    "x.exp() * x": (lambda a: a.exp() * a, lambda x: math.exp(x) * (1 + x)),
    "x.relu() + x": (lambda a: a.relu() + a, lambda x: 2.0 if x > 0 else 1.0),
    "diamond": (_diamond, lambda x: 2 * math.exp(2 * x) + math.exp(x)),
    "a + a + a": (lambda a: a + a + a, lambda x: 3.0),
    "a * a * a": (lambda a: a * a * a, lambda x: 3 * x**2),
}


@pytest.mark.parametrize("x", [1.5, -0.7])
@pytest.mark.parametrize("name", REPEATED)
def test_repeated_variable_gradients_add_up(name, x):
    build, derivative = REPEATED[name]
    a = Value(x)
    build(a).backward()
    assert a.grad == pytest.approx(derivative(x), rel=1e-12, abs=1e-12)


# --- the lecture's checks
# ---------------------------------------------------------------------------

def test_karpathys_published_example():
    # from the README of karpathy/micrograd
    a = Value(-4.0)
    b = Value(2.0)
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    g.backward()
    assert g.data == pytest.approx(24.7041, abs=1e-4)
    assert a.grad == pytest.approx(138.8338, abs=1e-4)
    assert b.grad == pytest.approx(645.5773, abs=1e-4)


@pytest.mark.parametrize("length", [20_000, pytest.param(200_000, marks=pytest.mark.slow)])
def test_a_long_chain_differentiates(length):
    assert sys.getrecursionlimit() < length  # else a recursive sort could pass by luck
    x = Value(0.5)
    y = x
    for _ in range(length):
        y = y + x
    y.backward()
    assert y.data == 0.5 * (length + 1)
    assert x.grad == length + 1


def test_backward_seeds_the_output_with_one():
    x, w = Value(3.0), Value(-2.0)
    y = x * w
    y.grad = 5.0  # a stale value is replaced by the seed, not added to
    y.backward()
    assert (y.grad, x.grad, w.grad) == (1.0, -2.0, 3.0)


def test_backward_twice_accumulates_into_the_leaves():
    # as in the lecture: backward() adds to .grad, which is why training zeroes the gradients
    x, w = Value(3.0), Value(-2.0)
    y = x * w
    y.backward()
    y.backward()
    assert (y.grad, x.grad, w.grad) == (1.0, -4.0, 6.0)


# --- edge cases and the documented policy for unusual numbers
# -----------------------------------------

@pytest.mark.parametrize("x", [1000.0, -1000.0])
def test_tanh_saturates_without_overflow(x):
    x = Value(x)
    t = x.tanh()
    t.backward()
    assert t.data == math.copysign(1.0, x.data)
    assert x.grad == 0.0


def test_exp_of_a_huge_number_is_inf():
    x = Value(1000.0)
    y = x.exp()
    y.backward()
    assert y.data == math.inf
    assert x.grad == math.inf
    assert Value(-1000.0).exp().data == 0.0


@pytest.mark.parametrize("bad", ["a", None, 1 + 2j, [1.0]])
def test_value_rejects_what_is_not_a_real_number(bad):
    with pytest.raises(TypeError, match=rf"real number.*{type(bad).__name__}"):
        Value(bad)


@pytest.mark.parametrize("operation", [lambda v: v + "a", lambda v: "a" * v, lambda v: v * None])
def test_ops_reject_what_is_not_a_real_number(operation):
    with pytest.raises(TypeError, match="real number"):
        operation(Value(1.0))


@pytest.mark.parametrize("exponent", [Value(2.0), "2", 2j])
def test_pow_needs_a_plain_number_exponent(exponent):
    with pytest.raises(TypeError, match="exponent"):
        Value(3.0) ** exponent


def test_a_negative_base_to_a_fractional_power_blames_the_power():
    with pytest.raises(ValueError, match=r"Value\(-2.0\) \*\* 0.5 is not a real number"):
        Value(-2.0) ** 0.5


@pytest.mark.parametrize("operation", [lambda v: 1 / v, lambda v: v**-2])
def test_zero_to_a_negative_power_blames_the_division(operation):
    with pytest.raises(ZeroDivisionError,
                       match=r"Value\(0.0\) \*\* -\d divides by zero \(a / b is a \* b\*\*-1\)"):
        operation(Value(0.0))


@pytest.mark.parametrize("x", [0.0, 3.0, math.inf])
def test_a_zeroth_power_is_the_constant_one_with_no_gradient(x):
    x = Value(x)
    y = x**0 * 2
    y.backward()
    assert (y.data, x.grad) == (2.0, 0.0)
    assert x in y._prev[0]._prev  # still drawn as part of the graph


def test_importing_the_engine_changes_nothing_global():
    code = (
        "import gc, sys; before = gc.get_threshold(), gc.isenabled(), sys.getrecursionlimit();"
        " import micrograd.engine; assert (gc.get_threshold(), gc.isenabled(),"
        " sys.getrecursionlimit()) == before"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=reference.SOLUTIONS_DIR,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_numpy_scalars_are_stored_as_floats():
    v = Value(np.float32(1.5)) * Value(np.int64(2))
    assert type(v.data) is float and v.data == 3.0


def test_nan_and_inf_are_accepted_and_propagate():
    # the documented policy: ordinary float arithmetic, so a diverging run shows nan, not a crash
    x = Value(float("nan"))
    y = (x * 2 + 1).tanh()
    y.backward()
    assert math.isnan(y.data) and math.isnan(x.grad)
    w = Value(3.0)
    z = w * Value(math.inf)
    z.backward()
    assert z.data == math.inf and w.grad == math.inf


# --- draw_dot
# ---------------------------------------------------------------------------------------

def _small_graph() -> Value:
    a = Value(2.0, label="a")
    b = Value(-3.0, label="b")
    c = a * b + a
    c.label = "c"
    c.backward()
    return c


def _edges(dot_source: str) -> set[tuple[str, str]]:
    return set(re.findall(r'"?([^"\s]+)"?\s*->\s*"?([^"\s]+)"?', dot_source))


def test_draw_dot_gives_a_digraph(monkeypatch):
    # as if `dot` were installed
    monkeypatch.setattr(engine.shutil, "which", lambda name: f"/usr/bin/{name}")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dot = engine.draw_dot(_small_graph())
    assert isinstance(dot, graphviz.Digraph)
    assert len(_edges(dot.source)) == 6  # a, b -> *; * -> a*b; a*b, a -> +; + -> c
    for text in ("a | data 2.0000 | grad -2.0000", "b | data -3.0000 | grad 2.0000",
                 "c | data -4.0000", "label=\"*\"", "label=\"+\""):
        assert text in dot.source


def test_draw_dot_says_how_to_get_the_dot_program(monkeypatch):
    monkeypatch.setattr(engine.shutil, "which", lambda name: None)
    with pytest.warns(UserWarning, match="dot` program is not installed") as warned:
        dot = engine.draw_dot(_small_graph())
    assert isinstance(dot, graphviz.Digraph)  # the same drawing, as text in .source
    for way in ("apt install graphviz", "brew install graphviz", "conda install graphviz",
                "graphviz.org/download"):
        assert way in str(warned[0].message)


def test_draw_dot_labels_are_optional(monkeypatch):
    monkeypatch.setattr(engine.shutil, "which", lambda name: f"/usr/bin/{name}")
    dot = engine.draw_dot(_small_graph(), labels=False).source
    assert "a |" not in dot and "{ data 2.0000 | grad -2.0000 }" in dot
