"""Classic student bugs as small edits of the reference, and correct code written differently.

Each mutant says the tasks it must fail (every other task must pass) and the diagnosis ids its
feedback must carry; each variant must get full marks. `apply` writes the edited reference into
a submission folder.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from autograder.markers import find_regions
from autograder.reference import REFERENCE_PACKAGE_DIR
from autograder.rubric import OP_TASKS, TASK_IDS


@dataclass(frozen=True)
class Edit:
    name: str
    changes: tuple[tuple[str, str, str], ...]  # (module: engine, nn or train; old text; new text)
    fails: tuple[str, ...] = ()  # the tasks it must fail; () for a correct variant
    diagnoses: tuple[str, ...] = ()  # ids the feedback must carry


def edit(name: str, module: str, old: str, new: str, fails: str | tuple[str, ...] = (),
         diagnosis: str | None = None) -> Edit:
    fails = (fails,) if isinstance(fails, str) else fails
    return Edit(name, ((module, old, new),), fails, (diagnosis,) if diagnosis else ())


ADD = "self.grad += out.grad\n            other.grad += out.grad"
MUL = "self.grad += other.data * out.grad\n            other.grad += self.data * out.grad"
POW = "self.grad += other * self.data ** (other - 1) * out.grad"
TANH = "self.grad += (1 - t**2) * out.grad"
EXP = "self.grad += out.data * out.grad"
RELU = "self.grad += (out.data > 0) * out.grad"
KIT_OPS = ("add_backward", "mul_backward", "pow_backward", "tanh_backward", "exp_backward", "relu_backward")


def _closures() -> dict[str, str]:
    """Each op task of the course -> its closure as the reference writes it (first line unindented)."""
    regions = find_regions(REFERENCE_PACKAGE_DIR / "engine.py")
    lines = (REFERENCE_PACKAGE_DIR / "engine.py").read_text().splitlines()
    closures = {}
    for region in regions:
        if region.task_id in {task.id for task in OP_TASKS}:
            closures[region.task_id] = "\n".join(lines[region.begin : region.end - 1]).lstrip()
    return closures


CLOSURES = _closures()

LOOP_BODY = """        scores = [model(x) for x in xs]
        loss = loss_fn(scores, ys) + l2_penalty(model.parameters(), alpha)
        loss.backward()
        for p in model.parameters():
            p.data -= lr * p.grad
"""

OVERWRITES = "grad_accumulation/overwrites"

_MUTANTS = (
    # every closure of the course that writes = instead of +=
    *(edit(f"{task.removesuffix('_backward')} overwrites", "engine", closure, closure.replace("+=", "="),
           "grad_accumulation", OVERWRITES) for task, closure in CLOSURES.items()),
    # a course's own ops (the kit's have classic mistakes of their own, below)
    *(edit(f"{task.removesuffix('_backward')} sign flipped", "engine", closure, closure.replace("+=", "-="), task,
           f"{task}/sign_flipped") for task, closure in CLOSURES.items() if task not in KIT_OPS),
    edit("add without out.grad", "engine", ADD, "self.grad += 1.0\n            other.grad += 1.0", "add_backward",
         "add_backward/out_grad_missing"),
    edit("add forgets other", "engine", ADD, "self.grad += out.grad", "add_backward", "add_backward/one_input_missing"),
    edit("mul swapped operands", "engine", MUL,
         "self.grad += self.data * out.grad\n            other.grad += other.data * out.grad", "mul_backward",
         "mul_backward/swapped_operands"),
    edit("mul without out.grad", "engine", MUL, "self.grad += other.data\n            other.grad += self.data",
         "mul_backward", "mul_backward/out_grad_missing"),
    edit("power rule exponent not lowered", "engine", "other * self.data ** (other - 1)", "other * self.data**other",
         "pow_backward", "pow_backward/exponent_not_lowered"),
    edit("power rule without p", "engine", "other * self.data ** (other - 1)", "self.data ** (other - 1)",
         "pow_backward", "pow_backward/factor_p_missing"),
    edit("pow without out.grad", "engine", POW, "self.grad += other * self.data ** (other - 1)", "pow_backward",
         "pow_backward/out_grad_missing"),
    edit("tanh 1 - t", "engine", "(1 - t**2) * out.grad", "(1 - t) * out.grad", "tanh_backward",
         "tanh_backward/one_minus_t"),
    edit("tanh of the input", "engine", "(1 - t**2) * out.grad", "(1 - self.data**2) * out.grad", "tanh_backward",
         "tanh_backward/input_not_output"),
    edit("exp uses x", "engine", EXP, "self.grad += self.data * out.grad", "exp_backward", "exp_backward/uses_x"),
    edit("exp without out.grad", "engine", EXP, "self.grad += out.data", "exp_backward",
         "exp_backward/out_grad_missing"),
    edit("relu mask missing", "engine", "(out.data > 0) * out.grad", "out.grad", "relu_backward",
         "relu_backward/mask_missing"),
    edit("relu mask inverted", "engine", "(out.data > 0) * out.grad", "(out.data <= 0) * out.grad", "relu_backward",
         "relu_backward/mask_inverted"),
    edit("relu times out.data", "engine", "(out.data > 0) * out.grad", "out.data * out.grad", "relu_backward",
         "relu_backward/times_out_data"),
    edit("topological order not reversed", "engine", "for v in reversed(topo):", "for v in topo:", "topo_sort",
         "topo_sort/wrong_order"),
    edit("no visited set", "engine", "elif v not in visited:", "elif True:", "topo_sort", "topo_sort/visits_twice"),
    edit("output not seeded", "engine", "        self.grad = 1.0\n        for v", "        for v", "topo_sort",
         "topo_sort/not_seeded"),
    edit("only the output's closure", "engine", "for v in reversed(topo):\n            v._backward()",
         "self._backward()", "topo_sort", "topo_sort/misses_nodes"),
    edit("zero_grad does nothing", "nn", "p.grad = 0.0", "pass", "zero_grad", "zero_grad/leaves_gradients"),
    edit("loop never zeroes", "train", "        model.zero_grad()\n", "        pass\n", "zero_grad",
         "zero_grad/loop_never_zeroes"),
    edit("gradient ascent", "train", "p.data -= lr * p.grad", "p.data += lr * p.grad", "training_loop",
         "training_loop/ascent"),
    edit("loop never updates", "train", "p.data -= lr * p.grad", "pass", "training_loop", "training_loop/no_update"),
    edit("loop never calls backward", "train", "loss.backward()", "pass", "training_loop", "training_loop/no_backward"),
    edit("the loop uses learning_rate, a schedule by default", "train", "p.data -= lr * p.grad",
         "p.data -= learning_rate * p.grad", "training_loop", "training_loop/rate_is_a_function"),
    edit("the loop ignores loss_fn", "train", "loss = loss_fn(scores, ys)", "loss = max_margin_loss(scores, ys)",
         "training_loop", "training_loop/ignores_loss_fn"),
    edit("the loop ignores alpha", "train", "l2_penalty(model.parameters(), alpha)", "l2_penalty(model.parameters())",
         "training_loop", "training_loop/ignores_alpha"),
    # half done: what is missing or untouched costs its own task only
    edit("zero_grad not written yet", "nn", "        for p in self.parameters():\n            p.grad = 0.0\n",
         '        raise NotImplementedError("zero_grad: not yet")\n', "zero_grad", "zero_grad/not_written"),
    edit("training loop not written yet", "train", "        model.zero_grad()\n" + LOOP_BODY,
         '        raise NotImplementedError("training_loop: not yet")\n', "training_loop", "training_loop/not_written"),
    edit("mul not written yet", "engine", MUL, 'raise NotImplementedError("mul_backward: not yet")', "mul_backward",
         "mul_backward/not_written"),
    edit("no relu (as in the lecture's engine)", "engine", "    def relu(self) -> Value:",
         "    def _no_relu(self) -> Value:", "relu_backward", "relu_backward/missing_op"),
    Edit("no tanh and no exp (as in Karpathy's micrograd)",
         (("engine", "    def tanh(self) -> Value:", "    def _no_tanh(self) -> Value:"),
          ("engine", "    def exp(self) -> Value:", "    def _no_exp(self) -> Value:")),
         ("tanh_backward", "exp_backward"), ("tanh_backward/missing_op", "exp_backward/missing_op")),
    # empty closures earn nothing: not their ops, and not grad_accumulation either
    Edit("every closure empty", tuple(("engine", closure, "pass") for closure in CLOSURES.values()),
         (*CLOSURES, "grad_accumulation"),
         (*(f"{task}/nothing_added" for task in CLOSURES), "grad_accumulation/nothing_to_judge")),
)



def _applies(change: Edit) -> bool:
    """Whether an edit is one of this course's: its tasks are the course's and its text is in the reference."""
    tasks = {*change.fails, *(diagnosis.partition("/")[0] for diagnosis in change.diagnoses)}
    return tasks <= set(TASK_IDS) and all(
        (REFERENCE_PACKAGE_DIR / f"{module}.py").read_text().count(old) == 1 for module, old, _ in change.changes)


MUTANTS = tuple(mutant for mutant in _MUTANTS if _applies(mutant))
DROPPED = tuple(mutant.name for mutant in _MUTANTS if not _applies(mutant))  # none, on the kit's own course

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
    edit("the lecture's recursive build_topo", "engine",
         "        topo = []\n        visited = set()\n        stack = [(self, False)]\n", RECURSIVE_TOPO
         + "        return\n        stack = [(self, False)]\n"),
    edit("tanh built from exp", "engine", "        t = math.tanh(self.data)\n",
         "        e = (2 * self).exp()\n        return (e - 1) / (e + 1)\n        t = 0.0\n"),
    edit("_prev as a set", "engine", "self._prev = _children", "self._prev = set(_children)"),
    edit("integer gradients", "engine", "self.grad = 0.0", "self.grad = 0"),
    edit("numpy gradients", "engine", "        self.grad = 0.0\n",
         "        import numpy\n        self.grad = numpy.float64(0)\n"),
    edit("numpy 0-d array gradients", "engine", "        self.grad = 0.0\n",
         "        import numpy\n        self.grad = numpy.zeros(())\n"),
    edit("train.py takes MLP from nn too", "train", "from .nn import Module", "from .nn import MLP, Module"),
    edit("nn.py takes draw_dot from engine too", "nn", "from .engine import Value",
         "from .engine import Value, draw_dot"),
    edit("labelled parameters", "nn", "self.b = Value(0.0)", 'self.b = Value(0.0, label="b")'),
    edit("the loop zeroes after the update", "train", "        model.zero_grad()\n" + LOOP_BODY,
         LOOP_BODY + "        model.zero_grad()\n"),
    edit("the loop zeroes by hand", "train", "        model.zero_grad()\n",
         "        for p in model.parameters():\n            p.grad = 0.0\n"),
    edit("the update written as += -lr * grad", "train", "p.data -= lr * p.grad", "p.data += -lr * p.grad"),
)
VARIANTS = tuple(variant for variant in VARIANTS if _applies(variant))


def apply(change: Edit, folder: Path) -> Path:
    """A submission folder holding the reference with these edits; ValueError if an `old` is not found once."""
    package = folder / "micrograd"
    shutil.copytree(REFERENCE_PACKAGE_DIR, package, ignore=shutil.ignore_patterns("__pycache__"))
    for module, old, new in change.changes:
        path = package / f"{module}.py"
        text = path.read_text()
        if text.count(old) != 1:
            raise ValueError(f"{change.name}: the text to replace occurs {text.count(old)} times in {path.name}")
        path.write_text(text.replace(old, new))
    return folder
