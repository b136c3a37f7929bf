"""micrograd: a tiny scalar autograd engine and a neural-network library on top of it."""

from .engine import Value
from .nn import MLP, Layer, Module, Neuron

__all__ = ["Value", "Module", "Neuron", "Layer", "MLP"]
