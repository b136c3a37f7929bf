"""The op closures (add_backward ... relu_backward) and grad_accumulation, each defined once.

An op's case builds `out` from fresh Values, seeds out.grad with a number that is never 1 (a
missing out.grad factor must show), runs the closures (the harness says how) and reports
every input's gradient. Two more cases put the op inside a small graph: its inputs made by
other nodes, its output used by another, so a closure attached to the wrong node (or one that
replaces another node's closure) shows. The judge compares them with central finite
differences of the same expression run on floats, and names the classic mistake whose
numbers match (the op's own, from course.toml, then the mistakes of any op).

grad_accumulation is judged on every closure the student wrote, right or wrong: accumulation
is linearity in the starting gradient, which `=` breaks whatever the derivative. The op's own
worker runs its closure from .grad = 0 and from .grad = start (start + the same part is
right), and a two-input op on one value twice (both parts must add up); those checks are
lent to grad_accumulation, which is paid only when they ran and passed on every closure the
student wrote: one that raises, hangs, crashes, gives no numbers or adds nothing costs its op
and grad_accumulation; one not written yet (the stub) or an op the engine lacks costs only its
own task (core._lend). Then values used twice in graphs (`a.tanh() + a`, a node that feeds two
ops), once the ops they run pass.
"""

from __future__ import annotations

import ast
import math
import random
from dataclasses import dataclass, replace
from functools import cache

from .core import (
    FAILED,
    LENT,
    NO_EVIDENCE,
    PASSED,
    BuiltFromOtherOps,
    Check,
    Definition,
    Diagnosis,
    Harness,
    lent_unseen,
)
from .course import OPERATORS, Course, Mistake, OpSpec, in_use
from .numeric import all_close, away_from_zero, close, evaluate, formula, plain, show

INPUT_NAMES = ("a", "b")
CASES_PER_OP = 6  # on fresh leaves
GRAPH_CASES_PER_OP = 2  # inside a small graph
ACCUMULATION = "grad_accumulation"


@dataclass(frozen=True)
class Op:
    """An op task of the course: its id, and how its cases are built (course.toml's expr, domain,
    ...)."""

    task_id: str
    spec: OpSpec

    @property
    def name(self) -> str:
        return self.task_id.removesuffix("_backward")

    @property
    def text(self) -> str:  # the op in the kit's expression text, on inputs a (and b)
        return self.spec.expr

    @property
    def method(self) -> str:  # where its closure lives, for a message about a hang or a missing op
        return self.spec.method

    def power(self, k: int) -> float | None:
        powers = self.spec.powers
        return powers[k % len(powers)] if powers else None

    def inputs(self, rng: random.Random, k: int, power: float | None) -> list[float]:
        """One number per input: a one-input op tries each piece of its domain in turn (both
        sides of a kink), a two-input op any piece for each input."""
        pieces = self.spec.intervals(positive=power is not None and power != int(power))
        if len(self.spec.inputs) == 1:
            chosen = [pieces[k % len(pieces)]]
        else:
            chosen = [rng.choice(pieces) for _ in "ab"]
        return [rng.uniform(low, high) for low, high in chosen]

    def used_twice(self) -> str:
        """The op on a value that is also used beside it: "a.tanh() + a", or "a * a" for two
        inputs."""
        tree = ast.parse(self.text.format(power=2), mode="eval")
        if len(self.spec.inputs) == 2:
            for node in ast.walk(tree):
                if isinstance(node, ast.Name):
                    node.id = "a"
            return ast.unparse(tree)
        return f"{ast.unparse(tree)} {'+' if 'add' in _ops() else '*'} a"


# what the kit's nn.py and train.py call on a Value
TRAINING_METHODS = ("__add__", "__mul__", "__pow__", "relu")


@cache
def ops_of(course: Course) -> dict[str, Op]:
    """The course's ops by name ("mul"), in its order."""
    return {op.name: op for op in (Op(task.id, task.op) for task in course.tasks if task.op)}


def _ops() -> dict[str, Op]:
    return ops_of(in_use())


def op_text(case: dict) -> str:
    return _ops()[case["op"]].text.format(power=case.get("power"))


def _op_case(op: Op, rng: random.Random, k: int) -> dict:
    power = op.power(k)
    case = {"op": op.name, "out_grad": away_from_zero(rng, 0.5, 2.0), "power": power}
    case["inputs"] = op.inputs(rng, k, power)
    case["label"] = f"out = {op_text(case)}"
    return case


def _graph_case(op: Op, rng: random.Random, k: int) -> dict:
    """The op on inputs that other nodes made (x = f * leaf), its output used by another node."""
    case = _op_case(op, rng, k)
    case["graph"] = {"inputs": [away_from_zero(rng, 0.5, 2.0) for _ in case["inputs"]],
                     "output": away_from_zero(rng, 0.5, 2.0)}
    case["label"] = f"out = {op_text(case)} inside a graph"
    return case


def _lent_cases(op: Op, rng: random.Random) -> list[dict]:
    """The op's closure as grad_accumulation judges it: from a nonzero .grad, and on one value
    twice."""
    if not any(task.id == ACCUMULATION for task in in_use().tasks):
        return []
    cases = []
    # two points: on both sides of a kink, a closure adds something at one at least
    for k in range(2):
        case = _op_case(op, rng, k)
        start = [away_from_zero(rng, 0.5, 3.0) for _ in case["inputs"]]
        cases.append({
            **case, "start": start,
            LENT: ACCUMULATION,
            "label": f"{op_text(case)} accumulates"
        })
    if len(op.spec.inputs) == 2:
        case = _op_case(op, rng, 2)
        case["inputs"] = [case["inputs"][0]] * 2
        cases.append({
            **case, "same": True,
            LENT: ACCUMULATION,
            "label": f"{op.used_twice()} collects both parts"
        })
    return cases


# ---- one op's closure ---------------------------------------------------------------------------

def observe_op(case: dict, harness: Harness) -> dict:
    if "start" in case:  # the same closure from .grad = 0, then from .grad = start
        return {
            "fresh": run_op(case, harness)["grads"],
            "from_start": run_op(case, harness, case["start"])["grads"]
        }
    if case.get("same"):  # a * a: one Value on both sides, beside two Values of the same number
        return {
            "parts": run_op(case, harness)["grads"],
            "both": run_op(case, harness, same=True)["grads"]
        }
    return run_in_graph(case, harness) if "graph" in case else run_op(case, harness)


def run_op(case: dict, harness: Harness, start: list[float] | None = None,
           same: bool = False) -> dict:
    """Build out = op(inputs) from fresh Values (their .grad set to `start`), run its closures."""
    leaves = [harness.Value(x) for x in case["inputs"][: 1 if same else None]]
    for leaf, grad in zip(leaves, start or []):
        leaf.grad = grad
    made = list(leaves)
    out = evaluate(op_text(case), dict(zip(INPUT_NAMES, leaves * 2 if same else leaves)), made)
    harness.run_closures(out, case["out_grad"], made)
    return {"out": plain(out.data), "grads": [plain(leaf.grad) for leaf in leaves]}


def run_in_graph(case: dict, harness: Harness) -> dict:
    """leaf -> x = f * leaf (a node the kit wires) -> out = op(x, ...) -> top = f' * out: each
    leaf's gradient, and whether the op replaced the closures of the nodes it was given (when built,
    when run)."""
    factors = case["graph"]["inputs"]
    leaves = [harness.Value(x / f) for x, f in zip(case["inputs"], factors)]
    inner = [_kit_node(harness, leaf, f, x) for leaf, f, x in zip(leaves, factors, case["inputs"])]
    made = [*leaves, *(node for node, _ in inner)]
    out = evaluate(op_text(case), dict(zip(INPUT_NAMES, (node for node, _ in inner))), made)
    replaced = ["when built" if node._backward is not closure else "" for node, closure in inner]
    top, _ = _kit_node(harness, out, case["graph"]["output"], 0.0)
    harness.run_closures(top, case["out_grad"], [*made, top])
    replaced = [
        was or ("when run" if node._backward is not closure else "")
        for was, (node, closure) in zip(replaced, inner)
    ]
    return {"grads": [plain(leaf.grad) for leaf in leaves], "replaced": replaced}


def _kit_node(harness: Harness, child: object, factor: float, data: float) -> tuple[object, object]:
    """A Value made from `child` by the kit (d node / d child = factor), with the kit's own
    closure."""
    node = harness.Value(data)
    node._prev = (child,)

    def _backward() -> None:
        grad = plain(node.grad)
        child.grad = child.grad + factor * grad if isinstance(grad, float) else node.grad

    node._backward = _backward
    return node, _backward


def expected_op_grads(case: dict) -> list[float]:
    """Each input's gradient: the local derivative by central difference, times out.grad."""
    from .expect import gradients

    names = INPUT_NAMES[: len(case["inputs"])]
    local = gradients(op_text(case), dict(zip(names, case["inputs"])))
    return [local[name] * case["out_grad"] for name in names]


def judge_op(case: dict, report: dict) -> Check:
    if "start" in case or case.get("same"):
        return _judge_pair(case, report) if "start" in case else _judge_same(case, report)
    if "graph" in case:
        return _judge_in_graph(case, report)
    want, got = expected_op_grads(case), report["grads"]
    if all_close(got, want):
        return Check(case["label"], PASSED)
    names = INPUT_NAMES[: len(want)]
    message = (
        f"for out = {op_text(case)} with {_inputs(case)} and out.grad = {case['out_grad']:g}, your"
        f" _backward gave {_grads(names, got)}; a central finite difference gives"
        f" {_grads(names, want)} ({_disagree(names, got, want)})"
    )
    return Check(case["label"], FAILED, message, tuple(op_mistakes(case, got, want)))


def _judge_in_graph(case: dict, report: dict) -> Check:
    """Each leaf gets f * (the op's gradient of x), with out.grad = f' * the seed when the op's
    closure runs."""
    factors, above = case["graph"]["inputs"], case["graph"]["output"]
    inner_case = {**case, "out_grad": case["out_grad"] * above}
    local = expected_op_grads(inner_case)
    want, got = [f * w for f, w in zip(factors, local)], report["grads"]
    if all_close(got, want):
        return Check(case["label"], PASSED)
    names = INPUT_NAMES[: len(want)]
    # what reached x, the op's input
    at_x = [g / f if isinstance(g, float) else g for g, f in zip(got, factors)]
    message = (
        f"for out = {op_text(case)} inside a graph ({' and '.join(names)} made by other nodes, with"
        f" {_inputs(case)}; out used by another node, so out.grad = {inner_case['out_grad']:g} when"
        f" the closure runs), your _backward gave {_grads(names, at_x)}; a central finite"
        f" difference gives {_grads(names, local)} ({_disagree(names, at_x, local)})"
    )
    replaced = [when for when in report.get("replaced", []) if when]
    if replaced:
        mistake, advice = WIRING[replaced[0]]
        return Check(case["label"], FAILED, message,
                     (Diagnosis(f"{_ops()[case['op']].task_id}/{mistake}", advice), ))
    return Check(case["label"], FAILED, message, tuple(op_mistakes(inner_case, at_x, local)))


WIRING = {  # when the op replaced the closure of a node it was given -> (mistake, advice)
    "when built": (
        "wrong_node",
        (
            "attach the closure to the op's result, out._backward = _backward, not to an "
            "input: self._backward = ... replaces the closure of the node that made self."
        ),
    ),
    "when run": (
        "replaces_closure",
        (
            "a _backward must only add to .grad: yours replaced the _backward of another "
            "node, so nothing reached the values before it."
        ),
    ),
}


def _inputs(case: dict) -> str:
    return ", ".join(f"{n} = {v:g}" for n, v in zip(INPUT_NAMES, case["inputs"]))


def _disagree(names: tuple[str, ...], got: list, want: list[float]) -> str:
    wrong = [name for name, g, w in zip(names, got, want) if not close(g, w)]
    return (
        f"{' and '.join(f'{name}.grad' for name in wrong)}"
        f" {'disagree' if len(wrong) > 1 else 'disagrees'}"
    )


def _grads(names: tuple[str, ...], values: list) -> str:
    return ", ".join(f"{n}.grad = {show(v)}" for n, v in zip(names, values))


def op_mistakes(case: dict, got: list, want: list[float]) -> list[Diagnosis]:
    """The classic mistakes whose numbers match what the closure gave, most specific first."""
    task = _ops()[case["op"]].task_id
    if not all(isinstance(x, float) for x in got):
        return [
            Diagnosis(
                f"{task}/not_a_number", "a gradient must be a number: add floats to .grad, "
                "not Values or other objects.")
        ]
    found: dict[str, Diagnosis] = {}
    for mistake in _mistakes(case, want):
        if mistake.id not in found and all_close(got, _gradients_of(mistake, case, want)):
            found[mistake.id] = Diagnosis(f"{task}/{mistake.id}", mistake.advice)
    return list(found.values())


def _gradients_of(mistake: Mistake, case: dict, want: list[float]) -> list[float]:
    """The gradients a mistake gives on the case, from its formulas (nan where a formula cannot be
    computed)."""
    from .expect import forward

    x, power = case["inputs"], case.get("power")
    names = {**dict(zip(INPUT_NAMES, x)), **dict(zip(RIGHT, want)), "g": case["out_grad"],
             "p": float(power) if power is not None else math.nan}
    try:
        names["out"] = forward(op_text(case), dict(zip(INPUT_NAMES, x)))
        return [formula(text, names) for text in mistake.grads]
    # 0 ** -1, log of a negative, ...: this mistake cannot be it
    except (ArithmeticError, ValueError, TypeError):
        return [math.nan] * len(mistake.grads)


RIGHT = ("da", "db")  # the right gradients, in the formulas of the mistakes any op can make


def _mistakes(case: dict, want: list[float]) -> list[Mistake]:
    """Nothing added; the op's own classic mistakes (course.toml); then those of any op: formulas on
    the case's numbers, most specific first."""
    n, right = len(want), RIGHT[: len(want)]
    nothing = Mistake(
        "nothing_added", ("0", ) * n, "nothing reached the inputs: _backward must add to self.grad "
        "(and other.grad).")
    generic = [
        Mistake(
            "local_derivative_missing", ("g", ) * n,
            "the local derivative is missing: multiply out.grad by "
            "d out / d input before adding it."),
        Mistake(
            "out_data_not_out_grad", tuple(f"{d} * out / g"
                                           for d in right), "out.data is the op's result, "
            "not its gradient: multiply the "
            "local derivative by out.grad."),
        Mistake(
            "times_out_data", ("out * g", ) * n,
            "the local derivative is not out.data (the op's result): "
            "multiply out.grad by d out / d input."),
        *([
            Mistake("one_input_missing",
                    ("da", "0"), "both inputs get a gradient: add to other.grad as well as "
                    "self.grad."),
            Mistake("one_input_missing",
                    ("0", "db"), "both inputs get a gradient: add to self.grad as well as "
                    "other.grad.")
        ] if n == 2 else []),
        Mistake("out_grad_missing", tuple(f"{d} / g"
                                          for d in right), "the chain rule's factor out.grad is "
                "missing: multiply by out.grad."),
        Mistake("sign_flipped", tuple(f"-{d}" for d in right), "the sign is flipped."),
        Mistake("added_twice", tuple(f"2 * {d}" for d in right), "each gradient was added twice."),
        *(_two_input_mistakes() if n == 2 else []),
    ]
    return [nothing, *_ops()[case["op"]].spec.mistakes, *generic]


def _two_input_mistakes() -> list[Mistake]:
    """The mistakes of one line of a two-input closure: a sign flipped on one input, or both lines
    adding to the same input (a copied line that kept self or other)."""
    return [
        Mistake(
            "sign_flipped", ("-da", "db"),
            "a's gradient has the wrong sign: add its local derivative "
            "times out.grad with +=, as for b."),
        Mistake(
            "sign_flipped", ("da", "-db"),
            "b's gradient has the wrong sign: add its local derivative "
            "times out.grad with +=, as for a."),
        Mistake(
            "copied_line", ("da + db", "0"),
            "both lines add to self.grad and other.grad gets nothing: the "
            "second line should add b's gradient to other.grad (a copied "
            "line?)."),
        Mistake(
            "copied_line", ("0", "da + db"),
            "both lines add to other.grad and self.grad gets nothing: the "
            "first line should add a's gradient to self.grad (a copied "
            "line?)."),
    ]


def run_closures_in_creation_order(out: object, out_grad: float, created: list) -> None:
    """Seed `out` and call the closures of the nodes the kit made, newest first (the preview's way).

    The kit made each node after its inputs, so newest first is an order in which every node's
    gradient is complete before its closure runs. It is not a sort of any graph: an op that
    makes nodes of its own (tanh built from exp) is left to the grade, which follows any graph.
    """
    made = {id(node) for node in created}
    for node in created:
        if any(id(child) not in made and tuple(child._prev) for child in tuple(node._prev)):
            raise BuiltFromOtherOps(
                "your op is built from other ops; this preview calls each op's own closure "
                "only, so it cannot follow it (the grade follows any graph)")
    out.grad = out_grad
    for node in reversed(created):
        node._backward()


# ---- grad_accumulation --------------------------------------------------------------------------

# Values used more than once in graphs, each with the tasks whose closures it runs: judged once
# those pass (the closures' own accumulation is judged in their workers, right or wrong). Each op
# of the course on a value also used beside it ("a.tanh() + a", "a * a"), then graphs of several
# ops (where the course has them): one node that feeds two ops, a sum in which a and b appear twice.
SHARED = ("c = a * b; c + c.tanh()", "a * b + a * a + b")


def accumulation_cases(rng: random.Random) -> list[dict]:
    cases = []
    for k, op in enumerate(_ops().values()):
        program = op.used_twice()
        values = {"a": op.inputs(rng, k, 2 if op.spec.powers else None)[0]}
        cases.append({
            "program": program,
            "vars": values,
            "needs": tasks_in(program),
            "label": program
        })
    for program in SHARED:
        needs = tasks_in(program)
        if needs is not None:
            values = {name: away_from_zero(rng, 0.3, 1.5) for name in INPUT_NAMES}
            cases.append({"program": program, "vars": values, "needs": needs, "label": program})
    return cases


def tasks_in(program: str) -> list[str] | None:
    """The op tasks whose closures a program runs, in the course's order; None if it uses an op the
    course does not have."""
    methods = {node.func.attr if isinstance(node, ast.Call) else OPERATORS[type(node.op)]
               for node in ast.walk(ast.parse(program)) if isinstance(node, (ast.Call, ast.BinOp))}
    by_method = {op.method: op.task_id for op in _ops().values()}
    if not methods <= set(by_method):
        return None
    return [op.task_id for op in _ops().values() if op.method in methods]


def observe_accumulation(case: dict, harness: Harness) -> dict:
    variables = {name: harness.Value(x) for name, x in case["vars"].items()}
    made = list(variables.values())
    out = evaluate(case["program"], variables, made)
    harness.run_closures(out, 1.0, made)
    return {"grads": {name: plain(v.grad) for name, v in variables.items()}}


OVERWRITES = Diagnosis(
    "grad_accumulation/overwrites", ".grad was overwritten, not accumulated: use += in every "
    "_backward (a value may feed several ops).")


def _judge_pair(case: dict, report: dict) -> Check:
    """From .grad = start, the closure must leave start + what the same closure adds from 0."""
    start, part, got = case["start"], report["fresh"], report["from_start"]
    names = INPUT_NAMES[: len(start)]
    shown = _showable(case, part + got)
    if shown is not None:
        return shown
    want = [s + c for s, c in zip(start, part)]
    if all_close(got, want):
        return Check(case["label"], PASSED)
    message = (
        f"for out = {op_text(case)}, with {_grads(names, start)} before the closure ran, your"
        f" _backward left {_grads(names, got)}; from .grad = 0 the same closure adds"
        f" {_grads(names, part)}, so it should leave {_grads(names, want)}"
    )
    # its part, alone
    overwrote = any(close(g, c) and not close(g, w) for g, c, w in zip(got, part, want))
    return Check(case["label"], FAILED, message, (OVERWRITES,) if overwrote else ())


def _judge_same(case: dict, report: dict) -> Check:
    """a * a: the one Value must collect both parts, as two Values of the same number get them."""
    parts, both = report["parts"], report["both"]
    shown = _showable(case, parts + both)
    if shown is not None:
        return shown
    if close(both[0], sum(parts)):
        return Check(case["label"], PASSED)
    message = (
        f"for out = {_ops()[case['op']].used_twice()} with a = {case['inputs'][0]:g}, your"
        f" _backward left a.grad = {show(both[0])}; on two Values of that number it gives the parts"
        f" {show(parts[0])} and {show(parts[1])}, so a used twice should collect {show(sum(parts))}"
    )
    return Check(case["label"], FAILED, message,
                 (OVERWRITES, ) if any(close(both[0], p) for p in parts) else ())


def _showable(case: dict, grads: list) -> Check | None:
    """A check when the numbers cannot show accumulation; None when they can. Not numbers: it fails,
    unseen (as for a closure that raised); infinite, or all unchanged: no evidence from this case (a
    closure that adds nothing adds up trivially; one that does so in every case fails, see
    core._lend)."""
    if not all(isinstance(v, float) for v in grads):
        return lent_unseen(f"`{_ops()[case['op']].method}`'s `_backward`", case,
                           "gave gradients that are not numbers")
    if not all(math.isfinite(v)
               for v in grads) or all(close(v, s) for v, s in zip(grads, _unchanged(case))):
        return Check(case["label"], NO_EVIDENCE)
    return None


def _unchanged(case: dict) -> list[float]:
    """The gradients a closure that adds nothing leaves: 0 from 0, start from start."""
    start = case.get("start") or [0.0] * len(case["inputs"])
    return [0.0] * len(start) + list(start) if "start" in case else [0.0] * 3


def _judge_repeated(case: dict, report: dict) -> Check:
    from .expect import gradients

    want, got = gradients(case["program"], case["vars"]), report["grads"]
    if all(close(got.get(name), w) for name, w in want.items()):
        return Check(case["label"], PASSED)
    where = ", ".join(f"{name} = {v:g}" for name, v in case["vars"].items())
    wrong = [name for name, w in want.items() if not close(got.get(name), w)]
    message = (
        f"for out = {case['program']} with {where}, backpropagation gave"
        f" {', '.join(f'{n}.grad = {show(got.get(n))}' for n in want)}; a central finite difference"
        f" gives {', '.join(f'{n}.grad = {w:.6g}' for n, w in want.items())}"
        f" ({' and '.join(f'{name}.grad' for name in wrong)}"
        f" {'disagree' if len(wrong) > 1 else 'disagrees'})"
    )
    not_summed = Diagnosis("grad_accumulation/uses_not_summed",
                           "a value used twice must collect both gradients: use += in _backward.")
    return Check(case["label"], FAILED, message, (not_summed,))


def _op_definition(op: Op) -> Definition:
    def make_cases(rng: random.Random) -> list[dict]:
        return [
            *(_op_case(op, rng, k) for k in range(CASES_PER_OP)),
            *(_graph_case(op, rng, k) for k in range(GRAPH_CASES_PER_OP)), *_lent_cases(op, rng)
        ]

    def explain_error(error: str) -> Diagnosis | None:
        if error.startswith("AttributeError") and f"'{op.method}'" in error:
            return Diagnosis(
                f"{op.task_id}/missing_op", f"Value has no {op.method}(): write the method, its "
                "forward pass and its _backward.")
        return None

    return Definition(op.task_id, make_cases, observe_op, judge_op, f"`{op.method}`'s `_backward`",
                      explain_error=explain_error, trains=op.method in TRAINING_METHODS)


ACCUMULATION_DEFINITION = Definition(ACCUMULATION, accumulation_cases, observe_accumulation,
                                     _judge_repeated, "the `_backward` closures", trains=True)


@cache
def definitions(course: Course) -> tuple[Definition, ...]:
    """The course's op tasks, in its order."""
    return tuple(_op_definition(op) for op in ops_of(course).values())


def accumulation(course: Course) -> Definition:
    """grad_accumulation, judged after every op its cases run."""
    return replace(ACCUMULATION_DEFINITION, needs=tuple(op.task_id
                                                        for op in ops_of(course).values()))


def __getattr__(name: str) -> object:
    """OPS: the course in use's ops, read when asked (never at import time)."""
    if name == "OPS":
        return _ops()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
