"""The op closures (add_backward ... relu_backward) and grad_accumulation, each defined once.

An op's case builds `out` from fresh Values, seeds out.grad with a number that is never 1 (a
missing out.grad factor must show), runs the closures (the harness says how) and reports
every input's gradient. The judge compares them with central finite differences of the same
expression run on floats, and names the classic mistake whose numbers match.

grad_accumulation is judged on each op whose own task passes, and only there: the same
closure run from .grad = 0 and from .grad = start must give start + the same part, and values
used twice (`a + a`, a node that feeds two ops) must collect both gradients.
"""

from __future__ import annotations

import ast
import random
from dataclasses import dataclass

from .core import FAILED, PASSED, BuiltFromOtherOps, Check, Definition, Diagnosis, Harness
from .course import OPERATORS, OpSpec
from .numeric import all_close, away_from_zero, close, evaluate, plain, show
from .rubric import OP_TASKS

INPUT_NAMES = ("a", "b")
CASES_PER_OP = 6


@dataclass(frozen=True)
class Op:
    """An op task of the course: its id, and how its cases are built (course.toml's expr, domain, ...)."""

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
        chosen = [pieces[k % len(pieces)]] if len(self.spec.inputs) == 1 else [rng.choice(pieces) for _ in "ab"]
        return [rng.uniform(low, high) for low, high in chosen]

    def used_twice(self) -> str:
        """The op on a value that is also used beside it: "a.tanh() + a", or "a * a" for two inputs."""
        tree = ast.parse(self.text.format(power=2), mode="eval")
        if len(self.spec.inputs) == 2:
            for node in ast.walk(tree):
                if isinstance(node, ast.Name):
                    node.id = "a"
            return ast.unparse(tree)
        return f"{ast.unparse(tree)} {'+' if 'add' in OPS else '*'} a"


OPS = {op.name: op for op in (Op(task.id, task.op) for task in OP_TASKS)}


def op_text(case: dict) -> str:
    return OPS[case["op"]].text.format(power=case.get("power"))


def _op_case(op: Op, rng: random.Random, k: int) -> dict:
    power = op.power(k)
    case = {"op": op.name, "out_grad": away_from_zero(rng, 0.5, 2.0), "power": power}
    case["inputs"] = op.inputs(rng, k, power)
    case["label"] = f"out = {op_text(case)}"
    return case


# ---- one op's closure ---------------------------------------------------------------------------

def run_op(case: dict, harness: Harness, start: list[float] | None = None) -> dict:
    """Build out = op(inputs) from fresh Values (their .grad set to `start`), run its closures."""
    leaves = [harness.Value(x) for x in case["inputs"]]
    for leaf, grad in zip(leaves, start or []):
        leaf.grad = grad
    made = list(leaves)
    out = evaluate(op_text(case), dict(zip(INPUT_NAMES, leaves)), made)
    harness.run_closures(out, case["out_grad"], made)
    return {"out": plain(out.data), "grads": [plain(leaf.grad) for leaf in leaves]}


def expected_op_grads(case: dict) -> list[float]:
    """Each input's gradient: the local derivative by central difference, times out.grad."""
    from .expect import gradients

    names = INPUT_NAMES[: len(case["inputs"])]
    local = gradients(op_text(case), dict(zip(names, case["inputs"])))
    return [local[name] * case["out_grad"] for name in names]


def judge_op(case: dict, report: dict) -> Check:
    want, got = expected_op_grads(case), report["grads"]
    if all_close(got, want):
        return Check(case["label"], PASSED)
    names = INPUT_NAMES[: len(want)]
    inputs = ", ".join(f"{n} = {v:g}" for n, v in zip(names, case["inputs"]))
    wrong = [name for name, g, w in zip(names, got, want) if not close(g, w)]
    message = (f"for out = {op_text(case)} with {inputs} and out.grad = {case['out_grad']:g}, your _backward gave "
               f"{_grads(names, got)}; a central finite difference gives {_grads(names, want)} "
               f"({' and '.join(f'{name}.grad' for name in wrong)} {'disagree' if len(wrong) > 1 else 'disagrees'})")
    return Check(case["label"], FAILED, message, tuple(op_mistakes(case, got, want)))


def _grads(names: tuple[str, ...], values: list) -> str:
    return ", ".join(f"{n}.grad = {show(v)}" for n, v in zip(names, values))


def op_mistakes(case: dict, got: list, want: list[float]) -> list[Diagnosis]:
    """The classic mistakes whose numbers match what the closure gave, most specific first."""
    task = OPS[case["op"]].task_id
    if not all(isinstance(x, float) for x in got):
        return [Diagnosis(f"{task}/not_a_number", "a gradient must be a number: add floats to .grad, "
                                                  "not Values or other objects.")]
    found = []
    for mistake, advice, alternative in _mistakes(case, want):
        if all_close(got, alternative):
            found.append(Diagnosis(f"{task}/{mistake}", advice))
    return found


def _mistakes(case: dict, want: list[float]):
    """(id, advice, the gradients that mistake gives) for the op of the case."""
    op, x, g, p = case["op"], case["inputs"], case["out_grad"], case.get("power")
    yield "nothing_added", "nothing reached the inputs: _backward must add to self.grad (and other.grad).", \
        [0.0] * len(want)
    if op == "mul":
        yield "swapped_operands", "the operands are swapped: a's local derivative is b.data, b's is a.data.", \
            [x[0] * g, x[1] * g]
    if op == "pow":
        yield "exponent_not_lowered", "the power rule is p * x**(p - 1): the exponent was not lowered.", \
            [p * x[0] ** p * g]
        yield "exponent_off_by_one", "the power rule is p * x**(p - 1): an off-by-one in the exponent.", \
            [p * x[0] ** (p - 2) * g]
        yield "factor_p_missing", "the power rule is p * x**(p - 1): the factor p is missing.", [x[0] ** (p - 1) * g]
        yield "factor_p_minus_one", "the power rule is p * x**(p - 1), not (p - 1) * x**(p - 1).", \
            [(p - 1) * x[0] ** (p - 1) * g]
    if op == "tanh":
        from .expect import forward

        t = forward("a.tanh()", {"a": x[0]})
        yield "one_minus_t", "the derivative of tanh is 1 - t**2; the closure used 1 - t.", [(1 - t) * g]
        yield "input_not_output", "the derivative is 1 - t**2 with t = tanh(x), the output, not the input x.", \
            [(1 - x[0] ** 2) * g]
    if op == "exp":
        yield "uses_x", "the derivative of e**x is e**x (out.data), not x.", [x[0] * g]
    if op == "relu":
        active = x[0] > 0
        yield "mask_missing", "the relu mask is missing: pass out.grad only where out.data > 0.", [g]
        yield "mask_inverted", "the relu mask is inverted: pass out.grad where out.data > 0.", [0.0 if active else g]
        yield "times_out_data", "multiply out.grad by (out.data > 0), not by out.data.", [max(x[0], 0.0) * g]
    if len(want) == 2:
        yield "one_input_missing", "both inputs get a gradient: add to other.grad as well as self.grad.", \
            [want[0], 0.0]
    yield "out_grad_missing", "the chain rule's factor out.grad is missing: multiply by out.grad.", \
        [w / g for w in want]
    yield "sign_flipped", "the sign is flipped.", [-w for w in want]
    yield "added_twice", "each gradient was added twice.", [2 * w for w in want]


def run_closures_in_creation_order(out: object, out_grad: float, created: list) -> None:
    """Seed `out` and call the closures of the nodes the kit made, newest first (the preview's way).

    The kit made each node after its inputs, so newest first is an order in which every node's
    gradient is complete before its closure runs. It is not a sort of any graph: an op that
    makes nodes of its own (tanh built from exp) is left to the grade, which follows any graph.
    """
    made = {id(node) for node in created}
    for node in created:
        if any(id(child) not in made and tuple(child._prev) for child in tuple(node._prev)):
            raise BuiltFromOtherOps("your op is built from other ops; this preview calls each op's own closure "
                                    "only, so it cannot follow it (the grade follows any graph)")
    out.grad = out_grad
    for node in reversed(created):
        node._backward()


# ---- grad_accumulation --------------------------------------------------------------------------

# Values used more than once, each with the tasks whose closures it runs: it is judged only once
# those pass, so a wrong closure costs its own task and not grad_accumulation too. Each op of the
# course on a value also used beside it ("a.tanh() + a", "a * a"), then graphs of several ops
# (where the course has them): one node that feeds two ops, a sum in which a and b appear twice.
SHARED = ("c = a * b; c + c.tanh()", "a * b + a * a + b")


def accumulation_cases(rng: random.Random) -> list[dict]:
    cases = []
    for k, op in enumerate(OPS.values()):
        case = _op_case(op, rng, k)
        start = [away_from_zero(rng, 0.5, 3.0) for _ in case["inputs"]]
        cases.append({**case, "start": start, "needs": [op.task_id], "label": f"{op_text(case)} accumulates"})
    for k, op in enumerate(OPS.values()):
        program = op.used_twice()
        values = {"a": op.inputs(rng, k, 2 if op.spec.powers else None)[0]}
        cases.append({"program": program, "vars": values, "needs": tasks_in(program), "label": program})
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
    by_method = {op.method: op.task_id for op in OPS.values()}
    if not methods <= set(by_method):
        return None
    return [op.task_id for op in OPS.values() if op.method in methods]


def observe_accumulation(case: dict, harness: Harness) -> dict:
    if "op" in case:  # the same closure from .grad = 0, then from .grad = start
        return {"fresh": run_op(case, harness)["grads"], "from_start": run_op(case, harness, case["start"])["grads"]}
    variables = {name: harness.Value(x) for name, x in case["vars"].items()}
    made = list(variables.values())
    out = evaluate(case["program"], variables, made)
    harness.run_closures(out, 1.0, made)
    return {"grads": {name: plain(v.grad) for name, v in variables.items()}}


OVERWRITES = Diagnosis("grad_accumulation/overwrites", ".grad was overwritten, not accumulated: use += in every "
                                                       "_backward (a value may feed several ops).")


def judge_accumulation(case: dict, report: dict) -> Check:
    return _judge_pair(case, report) if "op" in case else _judge_repeated(case, report)


def _judge_pair(case: dict, report: dict) -> Check:
    start, part, got = case["start"], report["fresh"], report["from_start"]
    if not all(isinstance(v, float) for v in part + got):
        return Check(case["label"], FAILED, "a gradient was not a number",
                     (Diagnosis("grad_accumulation/not_a_number", "add floats to .grad."),))
    want = [s + c for s, c in zip(start, part)]
    if all_close(got, want):
        return Check(case["label"], PASSED)
    names = INPUT_NAMES[: len(start)]
    message = (f"for out = {op_text(case)}, with {_grads(names, start)} before the closure ran, your _backward "
               f"left {_grads(names, got)}; it should add its part ({_grads(names, part)}) to what was there, "
               f"giving {_grads(names, want)}")
    overwrote = all(close(a, c) for a, c in zip(got, part))
    return Check(case["label"], FAILED, message, (OVERWRITES,) if overwrote else ())


def _judge_repeated(case: dict, report: dict) -> Check:
    from .expect import gradients

    want, got = gradients(case["program"], case["vars"]), report["grads"]
    if all(close(got.get(name), w) for name, w in want.items()):
        return Check(case["label"], PASSED)
    where = ", ".join(f"{name} = {v:g}" for name, v in case["vars"].items())
    wrong = [name for name, w in want.items() if not close(got.get(name), w)]
    message = (f"for out = {case['program']} with {where}, backpropagation gave "
               f"{', '.join(f'{n}.grad = {show(got.get(n))}' for n in want)}; a central finite difference gives "
               f"{', '.join(f'{n}.grad = {w:.6g}' for n, w in want.items())} "
               f"({' and '.join(f'{name}.grad' for name in wrong)} {'disagree' if len(wrong) > 1 else 'disagrees'})")
    return Check(case["label"], FAILED, message, (Diagnosis(
        "grad_accumulation/uses_not_summed", "a value used twice must collect both gradients: use += in _backward."),))


def _op_definition(op: Op) -> Definition:
    def make_cases(rng: random.Random) -> list[dict]:
        return [_op_case(op, rng, k) for k in range(CASES_PER_OP)]

    def explain_error(error: str) -> Diagnosis | None:
        if error.startswith("AttributeError") and f"'{op.method}'" in error:
            return Diagnosis(f"{op.task_id}/missing_op", f"Value has no {op.method}(): write the method, its "
                                                         "forward pass and its _backward.")
        return None

    return Definition(op.task_id, make_cases, run_op, judge_op, f"`{op.method}`'s `_backward`",
                      explain_error=explain_error)


DEFINITIONS = (
    *(_op_definition(op) for op in OPS.values()),
    Definition("grad_accumulation", accumulation_cases, observe_accumulation, judge_accumulation,
               "the `_backward` closures"),
)
