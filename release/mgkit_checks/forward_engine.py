# Written by `mgkit release`: a copy of the starter's micrograd/engine.py, as you got it. The checks
# compute their expected numbers from its forward passes (never its closures), so nothing you
# change in your engine can move them. Write your code in micrograd/engine.py, not here.
"""A scalar autograd engine: the `Value` of Karpathy's micrograd.

A `Value` holds one number (`data`), the gradient of the final output with
respect to it (`grad`), the values it was computed from (`_prev`), the name
of the operation that made it (`_op`) and a `_backward` closure that applies
the chain rule for that one operation.

Every operation has the same shape:
  1. wrap `other` in a Value if it is a plain number,
  2. build `out` from the forward result,
  3. define `_backward`: add each input's local derivative times `out.grad`
     to that input's `.grad`,
  4. attach `_backward` to `out`,
  5. return `out`.

Policy for unusual numbers: `Value` accepts any real number (int, float,
numpy scalar) and stores it as a float. NaN and infinity are allowed and
follow ordinary float arithmetic, exactly as they would without the engine,
so a diverging training run shows a `nan` loss instead of crashing deep
inside an operation. `exp` or `**` beyond the largest float is `inf`, not an error.
Anything that is not a real number (a string, a complex, None) is a
TypeError at once, and a result that is not one (`Value(-2.0) ** 0.5`) a ValueError.
"""

from __future__ import annotations

import math
import numbers
import shutil
import warnings


class Value:
    """A scalar in a computation graph, with the gradient of the output with respect to it."""

    # Why __slots__: a training step builds tens of thousands of Values. Without a
    # per-instance __dict__ each one is smaller and quicker to create.
    __slots__ = ("data", "grad", "_backward", "_prev", "_op", "label")

    def __init__(self, data: float, _children: tuple[Value, ...] = (), _op: str = "",
                 label: str = ""):
        self.data = _as_float(data)
        self.grad = 0.0
        # internal variables used for autograd graph construction
        self._backward = _leaf_backward
        self._prev = _children  # the inputs of the op that made this value
        self._op = _op  # the op that made this value, for draw_dot and debugging
        self.label = label  # an optional name, for draw_dot

    def __add__(self, other: Value | float) -> Value:
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():
            raise NotImplementedError("add_backward: add each input's local derivative of a + b, "
                                      "times out.grad, to that input's .grad")
        out._backward = _backward

        return out

    def __mul__(self, other: Value | float) -> Value:
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():
            raise NotImplementedError("mul_backward: add each input's local derivative of a * b "
                                      "(the other input), times out.grad, to its .grad")
        out._backward = _backward

        return out

    def __pow__(self, other: float) -> Value:
        if isinstance(other, Value):
            raise TypeError("Value ** Value is not supported: "
                            "the exponent must be a plain int or float, as in x**2")
        if not isinstance(other, numbers.Real):
            raise TypeError(f"the exponent must be an int or float, got {type(other).__name__}")
        # x**0 is the constant 1: nothing flows back (the power rule's 0.0 ** -1 would fail)
        if other == 0:
            return Value(1.0, (self,), "**0")
        out = Value(_pow(self.data, other), (self,), f"**{other}")

        def _backward():
            raise NotImplementedError("pow_backward: add the power rule's derivative of "
                                      "self.data**other, times out.grad, to self.grad")
        out._backward = _backward

        return out

    def tanh(self) -> Value:
        # math.tanh, not (e^2x - 1) / (e^2x + 1): that formula overflows for x > 355
        t = math.tanh(self.data)
        out = Value(t, (self,), "tanh")

        def _backward():
            raise NotImplementedError("tanh_backward: add the derivative of tanh, written with t = "
                                      "tanh(x), times out.grad, to self.grad")
        out._backward = _backward

        return out

    def exp(self) -> Value:
        out = Value(_exp(self.data), (self,), "exp")

        def _backward():
            raise NotImplementedError("exp_backward: add the derivative of e**x (e**x itself, "
                                      "already in out.data), times out.grad, to self.grad")
        out._backward = _backward

        return out

    def relu(self) -> Value:
        out = Value(0.0 if self.data < 0 else self.data, (self,), "ReLU")

        def _backward():
            raise NotImplementedError("relu_backward: add out.grad to self.grad where the relu was "
                                      "active (out.data > 0), nothing elsewhere")
        out._backward = _backward

        return out

    def backward(self) -> None:
        """Fill in `.grad` of every value this one depends on: d(self)/d(value).

        1) Order the graph topologically: each value after every value it was made from
           (a depth-first search from self, as the lecture's build_topo).
        2) Seed the output: d(self)/d(self) = 1.
        3) Go from the output back to the leaves, calling each value's _backward once.
        """
        raise NotImplementedError("topo_sort: sort the graph so each value follows its inputs, set "
                                  "self.grad = 1, then call every _backward from the output back")

    def __neg__(self) -> Value:  # -self
        return self * -1

    def __radd__(self, other: float) -> Value:  # other + self
        return self + other

    def __sub__(self, other: Value | float) -> Value:  # self - other
        return self + (-other)

    def __rsub__(self, other: float) -> Value:  # other - self
        return other + (-self)

    def __rmul__(self, other: float) -> Value:  # other * self
        return self * other

    def __truediv__(self, other: Value | float) -> Value:  # self / other
        return self * other**-1

    def __rtruediv__(self, other: float) -> Value:  # other / self
        return other * self**-1

    def __repr__(self) -> str:
        label = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g}{label})"


def _leaf_backward() -> None:
    """A leaf (an input or a parameter) was made by no op: there is nothing to pass on."""


def _as_float(data: float) -> float:
    if type(data) is float:  # the common case first: Values are made by the tens of thousands
        return data
    # bool is a number to Python, but Value(True) is almost always a mistake
    if isinstance(data, numbers.Real) and not isinstance(data, bool):
        return float(data)
    raise TypeError(f"Value needs a real number (int or float), got {type(data).__name__} {data!r}")


def _pow(x: float, p: float) -> float:
    try:
        y = x**p
    except OverflowError:  # beyond the largest float, as * and + give: inf, signed as x**p
        return -math.inf if x < 0 and p % 2 == 1 else math.inf
    except ZeroDivisionError:  # 0 to a negative power, which is how `1 / Value(0.0)` is computed
        raise ZeroDivisionError(f"Value({x!r}) ** {p!r} divides by zero (a / b is a * b**-1)") \
            from None
    if isinstance(y, complex):  # Python's answer for a negative base and a fractional exponent
        raise ValueError(f"Value({x!r}) ** {p!r} is not a real number: "
                         "a negative base needs a whole exponent")
    return y


def _exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:  # e^x is beyond the largest float (x > 709.78)
        return math.inf


NO_DOT_PROGRAM = (
    "Graphviz's `dot` program is not installed, so a notebook cannot show draw_dot's picture "
    "(`.source` still holds it as text). Install it with `sudo apt install graphviz`, "
    "`brew install graphviz`, "
    "`conda install graphviz` or, on Windows, the installer from https://graphviz.org/download/"
)


def draw_dot(root: Value, rankdir: str = "LR", labels: bool = True):
    """Draw the graph that produced `root`, as in the lecture: a `graphviz.Digraph`.

    A notebook shows it as a picture; `.source` is the same drawing as DOT text. It needs the
    graphviz package (`pip install graphviz`) and, for the picture, Graphviz's `dot` program.
    """
    from graphviz import Digraph  # only draw_dot needs it: the engine runs without it

    if shutil.which("dot") is None:
        warnings.warn(NO_DOT_PROGRAM, stacklevel=2)
    dot = Digraph(graph_attr={"rankdir": rankdir})
    seen = {root}
    stack = [root]
    while stack:
        v = stack.pop()
        name = f"{v.label} | " if labels and v.label else ""
        dot.node(str(id(v)), label=f"{{ {name}data {v.data:.4f} | grad {v.grad:.4f} }}",
                 shape="record")
        if v._op:  # a small node for the op, between the inputs and the value they make
            dot.node(str(id(v)) + v._op, label=v._op)
            dot.edge(str(id(v)) + v._op, str(id(v)))
        for child in v._prev:
            dot.edge(str(id(child)), str(id(v)) + v._op)
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return dot
