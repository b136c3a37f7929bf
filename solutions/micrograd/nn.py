"""A small neural-network library on top of `Value`: Neuron, Layer and MLP.

The activation is Karpathy's micrograd's: ReLU in the hidden layers and a linear
last layer. A linear output gives an unbounded score, which is what the max-margin
loss of his demo expects (its sign is the class), and ReLU keeps the hidden layers
cheap and trains the two-moons demo to 100%. The lecture's `tanh` is still in the
engine, and `Neuron(nin, nonlin=False)` gives a linear neuron.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from .engine import Value


class Module:
    """Anything with parameters: it can list them and reset their gradients."""

    def zero_grad(self) -> None:
        """Set every parameter's gradient to zero, before the next backward pass."""
        ### BEGIN SOLUTION zero_grad
        for p in self.parameters():
            p.grad = 0.0
        ### END SOLUTION

    def parameters(self) -> list[Value]:
        return []


class Neuron(Module):
    """One neuron: a weighted sum of the inputs plus a bias, then ReLU unless nonlin=False."""

    def __init__(self, nin: int, nonlin: bool = True, rng: random.Random | None = None):
        rng = rng or random  # by default the module's generator, so random.seed() still works
        self.w = [Value(rng.uniform(-1, 1)) for _ in range(nin)]
        self.b = Value(0.0)
        self.nonlin = nonlin

    def __call__(self, x: Sequence[Value | float]) -> Value:
        if len(x) != len(self.w):
            raise ValueError(f"this neuron takes {len(self.w)} inputs, got {len(x)}")
        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return act.relu() if self.nonlin else act

    def parameters(self) -> list[Value]:
        return self.w + [self.b]

    def __repr__(self) -> str:
        return f"{'ReLU' if self.nonlin else 'Linear'}Neuron({len(self.w)})"


class Layer(Module):
    """`nout` neurons that each see the same `nin` inputs."""

    def __init__(self, nin: int, nout: int, **kwargs):
        self.neurons = [Neuron(nin, **kwargs) for _ in range(nout)]

    def __call__(self, x: Sequence[Value | float]) -> Value | list[Value]:
        out = [n(x) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    def parameters(self) -> list[Value]:
        return [p for n in self.neurons for p in n.parameters()]

    def __repr__(self) -> str:
        return f"Layer of [{', '.join(str(n) for n in self.neurons)}]"


class MLP(Module):
    """A multi-layer perceptron: layers of sizes `nouts`, ReLU between them, a linear last layer."""

    def __init__(self, nin: int, nouts: Sequence[int], rng: random.Random | None = None):
        sizes = [nin, *nouts]
        self.layers = [
            Layer(sizes[i], sizes[i + 1], nonlin=i != len(nouts) - 1, rng=rng)
            for i in range(len(nouts))
        ]

    def __call__(self, x: Sequence[Value | float]) -> Value | list[Value]:
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self) -> list[Value]:
        return [p for layer in self.layers for p in layer.parameters()]

    def __repr__(self) -> str:
        sizes = " -> ".join(str(len(layer.neurons)) for layer in self.layers)
        inputs = len(self.layers[0].neurons[0].w)
        return f"MLP({inputs} -> {sizes}, {len(self.parameters())} parameters)"
