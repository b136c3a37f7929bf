"""A trusted engine and MLP, so that nn and train tasks are judged on an engine known to be right.

Never shipped to students. Written differently from the reference on purpose: each op stores
its local derivatives when it runs (no `_backward` closures), and `backward` multiplies them
along the graph. It speaks the contract's public API, so a student's nn.py and train.py run on it.

`forgiving=True` makes `backward()` clear the graph's old gradients first, so that a training
loop that forgets to zero them is still judged on its own task (training_loop), while the
zero_grad task catches the forgetting on the strict engine.
"""

from __future__ import annotations

import math
import random

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
        # what every value's gradient was when this pass ended, whatever the loop does with .grad after
        _last_backward.clear()
        _last_backward.update((id(v), v.grad) for v in order)

    def _forgiving_backward(self):
        for v in topological_order(self):
            v.grad = 0.0
        Value.backward(self)

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
    """A value's gradient as the last backward pass left it (a loop may zero .grad after updating)."""
    return _last_backward.get(id(value), value.grad)


class ForgivingValue(Value):
    __slots__ = ()
    backward = Value._forgiving_backward


class Module:
    def zero_grad(self):
        for p in self.parameters():
            p.grad = 0.0

    def parameters(self):
        return []


def make_mlp(value_class: type, nin: int, nouts: list[int], seed: int) -> Module:
    """An MLP like the reference's (ReLU hidden, linear last layer), weights from `seed`."""
    rng = random.Random(seed)

    class MLP(Module):
        def __init__(self):
            sizes = [nin, *nouts]
            self.layers = [
                [([value_class(rng.uniform(-1, 1)) for _ in range(sizes[i])], value_class(0.0)) for _ in range(n)]
                for i, n in enumerate(nouts)
            ]

        def __call__(self, x):
            for depth, layer in enumerate(self.layers):
                last = depth == len(self.layers) - 1
                acts = [sum((w * xi for w, xi in zip(ws, x)), b) for ws, b in layer]
                x = acts if last else [a.relu() for a in acts]
            return x[0] if len(x) == 1 else x

        def parameters(self):
            return [p for layer in self.layers for ws, b in layer for p in (*ws, b)]

    return MLP()


def fit(case: dict) -> float:
    """Train the case's model on its moons with the lecture's loop; its final accuracy."""
    from .cases import moons
    from .verdicts import mlp_accuracy

    xs, ys = moons(case["points"], case["data_seed"])
    model = make_mlp(Value, 2, case["nouts"], case["model_seed"])
    for _ in range(case["steps"]):
        model.zero_grad()
        scores = [model(x) for x in xs]
        hinge = sum((1 - y * score).relu() for score, y in zip(scores, ys)) / len(ys)
        loss = hinge + 1e-4 * sum(p * p for p in model.parameters())
        loss.backward()
        for p in model.parameters():
            p.data -= case["lr"] * p.grad
    return mlp_accuracy(case, [p.data for p in model.parameters()])
