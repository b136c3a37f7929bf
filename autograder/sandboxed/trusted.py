"""A trusted engine, so that the nn and train tasks are judged on an engine known to be right.

Never shipped to students, and never in a worker's memory but those of zero_grad and
training_loop (autograder/sandboxed/harness.py loads it there): it holds a working sort and every
op's derivative. Written differently from the reference on purpose: each op stores its local
derivatives when it runs (no `_backward` closures), and `backward` multiplies them along the
graph. It speaks the contract's public API, so a student's nn.py and train.py run on it.
"""

from __future__ import annotations

import math

from .traversal import topological_order


class Value:
    __slots__ = ("data", "grad", "_prev", "_local", "_op", "_backward", "label")

    def __init__(self, data, _children=(), _op="", _local=(), label=""):
        if isinstance(data, Value):
            data = data.data
        self.data = float(data)
        self.grad = 0.0
        self._prev = tuple(_children)
        self._local = tuple(_local)  # d(self)/d(child) for each child, fixed at forward time
        self._op = _op
        self._backward = self._push
        self.label = label

    def _push(self):
        for child, local in zip(self._prev, self._local):
            child.grad += local * self.grad

    @staticmethod
    def _wrap(x):
        return x if isinstance(x, Value) else Value(x)

    def __add__(self, other):
        other = self._wrap(other)
        return Value(self.data + other.data, (self, other), "+", (1.0, 1.0))

    def __mul__(self, other):
        other = self._wrap(other)
        return Value(self.data * other.data, (self, other), "*", (other.data, self.data))

    def __pow__(self, k):
        if not isinstance(k, (int, float)):
            raise TypeError("only int/float powers")
        return Value(self.data**k, (self,), f"**{k}", (k * self.data ** (k - 1),))

    def tanh(self):
        t = math.tanh(self.data)
        return Value(t, (self,), "tanh", (1.0 - t * t,))

    def exp(self):
        e = math.exp(min(self.data, 709.0))
        return Value(e, (self,), "exp", (e,))

    def relu(self):
        positive = self.data > 0
        return Value(self.data if positive else 0.0, (self,), "ReLU", (1.0 if positive else 0.0,))

    def backward(self):
        order = topological_order(self)
        self.grad = 1.0
        for v in reversed(order):
            v._backward()
        # what every value's gradient was when this pass ended, whatever the loop does with .grad
        # after
        _last_backward.clear()
        _last_backward.update((id(v), v.grad) for v in order)

    def __neg__(self):
        return self * -1

    def __radd__(self, other):
        return self + other

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return other + (-self)

    def __rmul__(self, other):
        return self * other

    def __truediv__(self, other):
        return self * other**-1

    def __rtruediv__(self, other):
        return other * self**-1

    def __repr__(self):
        return f"Value(data={self.data}, grad={self.grad})"


_last_backward: dict[int, float] = {}


def grad_at_last_backward(value: Value) -> float:
    """A value's gradient as the last backward pass left it (a loop may zero .grad after
    updating)."""
    return _last_backward.get(id(value), value.grad)
