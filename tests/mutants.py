"""Classic student bugs as small edits of the reference, and correct variants written differently.

Each mutant must fail exactly its own task and pass every other; each variant must get full
marks. `apply` writes the edited reference into a submission folder.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from autograder.reference import REFERENCE_PACKAGE_DIR


@dataclass(frozen=True)
class Edit:
    name: str
    module: str  # engine, nn or train
    old: str
    new: str
    task_id: str | None = None  # the task it must fail; None for a correct variant


LOOP_BODY = """        scores = [model(x) for x in xs]
        loss = loss_fn(scores, ys) + l2_penalty(model.parameters(), alpha)
        loss.backward()
        for p in model.parameters():
            p.data -= lr * p.grad
"""

MUTANTS = (
    Edit("add overwrites", "engine", "self.grad += out.grad\n            other.grad += out.grad",
         "self.grad = out.grad\n            other.grad = out.grad", "grad_accumulation"),
    Edit("mul overwrites", "engine", "self.grad += other.data * out.grad\n            other.grad += self.data",
         "self.grad = other.data * out.grad\n            other.grad = self.data", "grad_accumulation"),
    Edit("pow overwrites", "engine", "self.grad += other * self.data", "self.grad = other * self.data",
         "grad_accumulation"),
    Edit("tanh overwrites", "engine", "self.grad += (1 - t**2)", "self.grad = (1 - t**2)", "grad_accumulation"),
    Edit("add without out.grad", "engine", "self.grad += out.grad\n            other.grad += out.grad",
         "self.grad += 1.0\n            other.grad += 1.0", "add_backward"),
    Edit("add forgets other", "engine", "self.grad += out.grad\n            other.grad += out.grad",
         "self.grad += out.grad", "add_backward"),
    Edit("mul swapped operands", "engine", "self.grad += other.data * out.grad\n            other.grad += self.data",
         "self.grad += self.data * out.grad\n            other.grad += other.data", "mul_backward"),
    Edit("mul without out.grad", "engine",
         "self.grad += other.data * out.grad\n            other.grad += self.data * out.grad",
         "self.grad += other.data\n            other.grad += self.data", "mul_backward"),
    Edit("power rule off by one", "engine", "other * self.data ** (other - 1)", "other * self.data**other",
         "pow_backward"),
    Edit("power rule without p", "engine", "other * self.data ** (other - 1)", "self.data ** (other - 1)",
         "pow_backward"),
    Edit("tanh 1 - t", "engine", "(1 - t**2) * out.grad", "(1 - t) * out.grad", "tanh_backward"),
    Edit("tanh of the input", "engine", "(1 - t**2) * out.grad", "(1 - self.data**2) * out.grad", "tanh_backward"),
    Edit("exp uses x", "engine", "self.grad += out.data * out.grad", "self.grad += self.data * out.grad",
         "exp_backward"),
    Edit("exp without out.grad", "engine", "self.grad += out.data * out.grad", "self.grad += out.data",
         "exp_backward"),
    Edit("relu mask missing", "engine", "(out.data > 0) * out.grad", "out.grad", "relu_backward"),
    Edit("relu mask inverted", "engine", "(out.data > 0) * out.grad", "(out.data <= 0) * out.grad",
         "relu_backward"),
    Edit("relu times out.data", "engine", "(out.data > 0) * out.grad", "out.data * out.grad", "relu_backward"),
    Edit("topological order not reversed", "engine", "for v in reversed(topo):", "for v in topo:", "topo_sort"),
    Edit("no visited set", "engine", "elif v not in visited:", "elif True:", "topo_sort"),
    Edit("output not seeded", "engine", "        self.grad = 1.0\n        for v", "        for v", "topo_sort"),
    Edit("only the output's closure", "engine", "for v in reversed(topo):\n            v._backward()",
         "self._backward()", "topo_sort"),
    Edit("zero_grad does nothing", "nn", "p.grad = 0.0", "pass", "zero_grad"),
    Edit("loop never zeroes", "train", "        model.zero_grad()\n", "        pass\n", "zero_grad"),
    Edit("gradient ascent", "train", "p.data -= lr * p.grad", "p.data += lr * p.grad", "training_loop"),
    Edit("loop never calls backward", "train", "loss.backward()", "pass", "training_loop"),
    # half done: one task still the starter's stub must cost that task only
    Edit("zero_grad not written yet", "nn", "        for p in self.parameters():\n            p.grad = 0.0\n",
         '        raise NotImplementedError("zero_grad: not yet")\n', "zero_grad"),
    Edit("training loop not written yet", "train", "        model.zero_grad()\n" + LOOP_BODY,
         '        raise NotImplementedError("training_loop: not yet")\n', "training_loop"),
)

RECURSIVE_TOPO = """        topo = []
        visited = set()
        def build_topo(v):
            if v not in visited:
                visited.add(v)
                for child in v._prev:
                    build_topo(child)
                topo.append(v)
        build_topo(self)
        self.grad = 1
        for v in reversed(topo):
            v._backward()
"""

VARIANTS = (
    Edit("the lecture's recursive build_topo", "engine",
         "        topo = []\n        visited = set()\n        stack = [(self, False)]\n", RECURSIVE_TOPO
         + "        return\n        stack = [(self, False)]\n"),
    Edit("tanh built from exp", "engine", "        t = math.tanh(self.data)\n",
         "        e = (2 * self).exp()\n        return (e - 1) / (e + 1)\n        t = 0.0\n"),
    Edit("_prev as a set", "engine", "self._prev = _children", "self._prev = set(_children)"),
    Edit("integer gradients", "engine", "self.grad = 0.0", "self.grad = 0"),
    Edit("numpy gradients", "engine", "        self.grad = 0.0\n",
         "        import numpy\n        self.grad = numpy.float64(0)\n"),
    Edit("numpy 0-d array gradients", "engine", "        self.grad = 0.0\n",
         "        import numpy\n        self.grad = numpy.zeros(())\n"),
    Edit("train.py takes MLP from nn too", "train", "from .nn import Module", "from .nn import MLP, Module"),
    Edit("nn.py takes draw_dot from engine too", "nn", "from .engine import Value",
         "from .engine import Value, draw_dot"),
    Edit("labelled parameters", "nn", "self.b = Value(0.0)", 'self.b = Value(0.0, label="b")'),
    Edit("the loop zeroes after the update", "train", "        model.zero_grad()\n" + LOOP_BODY,
         LOOP_BODY + "        model.zero_grad()\n"),
)


def apply(edit: Edit, folder: Path) -> Path:
    """A submission folder holding the reference with this one edit; ValueError if `old` is not found once."""
    package = folder / "micrograd"
    shutil.copytree(REFERENCE_PACKAGE_DIR, package, ignore=shutil.ignore_patterns("__pycache__"))
    path = package / f"{edit.module}.py"
    text = path.read_text()
    if text.count(edit.old) != 1:
        raise ValueError(f"{edit.name}: the text to replace occurs {text.count(edit.old)} times in {path.name}")
    path.write_text(text.replace(edit.old, edit.new))
    return folder
