"""Verdicts: compare what a probe reported with what a finite difference or the rules say.

Each verdict is (passed, message). A failing message teaches: what was tried, the numbers the
student's code gave, the numbers expected (by central finite difference where it applies), and
the likely mistake. Shipped to students with the public checks.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .cases import FORWARD, INPUT_NAMES, evaluate, op_text

RTOL = 1e-4  # relative: a correct closure agrees with a central difference to ~1e-9
ATOL = 1e-6  # for gradients that should be 0


def close(got: object, want: float) -> bool:
    if not isinstance(got, float):
        return False
    if math.isnan(want):
        return math.isnan(got)
    if math.isinf(got) or math.isinf(want):  # else an infinite gradient is within inf * RTOL of anything
        return got == want
    return abs(got - want) <= ATOL + RTOL * max(abs(want), abs(got))


def central_difference(f: Callable[..., float], args: list[float], i: int) -> float:
    """d f / d args[i] by a central difference, with a step scaled to the argument."""
    h = 1e-6 * max(1.0, abs(args[i]))
    up, down = list(args), list(args)
    up[i] += h
    down[i] -= h
    return (f(*up) - f(*down)) / (2 * h)


def show(x: object) -> str:
    if isinstance(x, dict) and "not_a_number" in x:
        return f"a {x['not_a_number']} (not a number)"
    return f"{x:.6g}" if isinstance(x, float) else repr(x)


# ---- the local derivative of one op ------------------------------------------------------

def expected_op_grads(case: dict) -> list[float]:
    """Each input's gradient: the finite-difference local derivative times out.grad (plus any start)."""
    op, g = case["op"], case["out_grad"]
    if op == "pow":
        args, forward = case["inputs"][:1], (lambda a: FORWARD["pow"](a, case["power"]))
    else:
        args, forward = case["inputs"], FORWARD[op]
    start = case.get("start") or [0.0] * len(args)
    return [s + central_difference(forward, args, i) * g for i, s in enumerate(start)]


def judge_op(case: dict, seen: dict) -> tuple[bool, str]:
    want = expected_op_grads(case)
    got = seen["grads"]
    if all(close(x, w) for x, w in zip(got, want)) and len(got) == len(want):
        return True, ""
    names = INPUT_NAMES[: len(want)]
    inputs = ", ".join(f"{n} = {v:g}" for n, v in zip(names, case["inputs"]))
    message = (
        f"for out = {op_text(case)} with {inputs} and out.grad = {case['out_grad']:g}, "
        f"your _backward gave {_grads(names, got)}; "
        f"a central finite difference gives {_grads(names, want)}."
    )
    mistake = likely_op_mistake(case, got)
    return False, message + (f" Likely mistake: {mistake}" if mistake else "")


def _grads(names: tuple[str, ...], values: list) -> str:
    return ", ".join(f"{n}.grad = {show(v)}" for n, v in zip(names, values))


def likely_op_mistake(case: dict, got: list) -> str:
    """Name the classic mistake whose numbers match what the student's closure gave."""
    if not all(isinstance(x, float) for x in got):
        return "a gradient must be a number: add floats to .grad, not Values or other objects."
    g = case["out_grad"]
    x = case["inputs"]
    want = expected_op_grads({**case, "start": None})
    for label, alternative in _mistakes(case["op"], x, g, case.get("power"), want):
        if len(alternative) == len(got) and all(close(a, b) for a, b in zip(got, alternative)):
            return label
    return ""


def _mistakes(op: str, x: list[float], g: float, p: float | None, want: list[float]):
    """(label, the gradients that mistake would give), most specific first."""
    yield "nothing reached the inputs: _backward must add to self.grad (and other.grad).", [0.0] * len(want)
    if op == "mul":
        yield "the operands are swapped: a's local derivative is b.data, b's is a.data.", [x[0] * g, x[1] * g]
    if op == "pow":
        yield "the power rule is p * x**(p - 1): the exponent was not lowered.", [p * x[0] ** p * g]
        yield "the power rule is p * x**(p - 1): an off-by-one in the exponent.", [p * x[0] ** (p - 2) * g]
        yield "the power rule is p * x**(p - 1): the factor p is missing.", [x[0] ** (p - 1) * g]
        yield "the power rule is p * x**(p - 1), not (p - 1) * x**(p - 1).", [(p - 1) * x[0] ** (p - 1) * g]
    if op == "tanh":
        t = math.tanh(x[0])
        yield "the derivative of tanh is 1 - t**2; the closure used 1 - t.", [(1 - t) * g]
        yield "the derivative is 1 - t**2 with t = tanh(x), the output, not the input x.", [(1 - x[0] ** 2) * g]
    if op == "exp":
        yield "the derivative of e**x is e**x (out.data), not x.", [x[0] * g]
    if op == "relu":
        active = x[0] > 0
        yield "the relu mask is missing: pass out.grad only where out.data > 0.", [g]
        yield "the relu mask is inverted: pass out.grad where out.data > 0.", [0.0 if active else g]
        yield "multiply out.grad by (out.data > 0), not by out.data.", [max(x[0], 0.0) * g]
    if g != 1.0:
        yield "the chain rule's factor out.grad is missing.", [w / g for w in want]
    yield "the sign is flipped.", [-w for w in want]
    yield "each gradient was added twice.", [2 * w for w in want]


# ---- accumulation ------------------------------------------------------------------------

def judge_accumulation(fresh: dict, from_start: dict, case: dict) -> tuple[bool, str]:
    """The same closure run from .grad = start must give start + what it gives from 0."""
    start = case["start"]
    contribution, got = fresh["grads"], from_start["grads"]
    if not all(isinstance(v, float) for v in contribution + got):
        return False, "a gradient must be a number: add floats to .grad."
    want = [s + c for s, c in zip(start, contribution)]
    if all(close(a, b) for a, b in zip(got, want)):
        return True, ""
    names = INPUT_NAMES[: len(start)]
    message = (
        f"for out = {op_text(case)}, with {_grads(names, start)} before the closure ran, "
        f"your _backward left {_grads(names, got)}; it should add its part ({_grads(names, contribution)}) "
        f"to what was there, giving {_grads(names, want)}."
    )
    if all(close(a, c) for a, c in zip(got, contribution)):
        message += " Likely mistake: .grad was overwritten, not accumulated: use += (a value may feed several ops)."
    return False, message


def expected_expr_grads(case: dict) -> dict[str, float]:
    names = list(case["vars"])
    values = [case["vars"][n] for n in names]

    def f(*args: float) -> float:
        return evaluate(case["expr"], dict(zip(names, args)))

    return {n: central_difference(f, values, i) for i, n in enumerate(names)}


def judge_expr(case: dict, seen: dict) -> tuple[bool, str]:
    want = expected_expr_grads(case)
    got = seen["grads"]
    if all(close(got.get(n), w) for n, w in want.items()):
        return True, ""
    where = ", ".join(f"{n} = {v:g}" for n, v in case["vars"].items())
    message = (
        f"for out = {case['expr']} with {where}, backpropagation gave "
        f"{', '.join(f'{n}.grad = {show(got.get(n))}' for n in want)}; a central finite difference gives "
        f"{', '.join(f'{n}.grad = {w:.6g}' for n, w in want.items())}."
    )
    return False, message + " Likely mistake: a value used twice must collect both gradients: use += in _backward."


# ---- backward(): the order of the closures -----------------------------------------------

def judge_topo(case: dict, seen: dict) -> tuple[bool, str]:
    consumers = _consumers(case)
    needed = _reachable(case)  # the op nodes backward() must visit
    calls, seed = seen["calls"], seen["seed"]
    what = f"backward() on a graph of {len(needed)} ops"
    counts = {k: calls.count(k) for k in set(calls)}
    twice = [k for k, c in counts.items() if c > 1]
    if twice:
        return False, (f"{what} called the _backward of a node {counts[twice[0]]} times. Likely mistake: no "
                       "visited set, so a value used by two ops is added to topo twice.")
    missing = [k for k in needed if k not in counts]
    if missing:
        return False, (f"{what} called {sum(1 for k in needed if k in counts)} of the {len(needed)} op closures. "
                       "Likely mistake: call _backward on every node of topo, not only on the output.")
    if seed is None or not close(seed, 1.0):
        return False, (f"{what}: when the output's _backward ran, out.grad was {show(seed)}. Likely mistake: "
                       "seed the output first with self.grad = 1.")
    position = {k: i for i, k in enumerate(calls)}
    for k in needed:
        for user in consumers.get(k, ()):
            if user in position and position[user] > position[k]:
                return False, (f"{what} ran the _backward of a value before the _backward of an op that uses it, "
                               "so its gradient was not complete yet. Likely mistake: go through topo in reverse "
                               "(output first).")
    return True, ""


def _consumers(case: dict) -> dict[int, list[int]]:
    n = len(case["leaves"])
    users: dict[int, list[int]] = {}
    for k, (_, i, j) in enumerate(case["program"]):
        for child in {i, j}:
            users.setdefault(child, []).append(n + k)
    return users


def _reachable(case: dict) -> list[int]:
    """The op nodes (not leaves) that the output depends on."""
    n = len(case["leaves"])
    found, stack = set(), [case["output"]]
    while stack:
        k = stack.pop()
        if k >= n and k not in found:
            found.add(k)
            _, i, j = case["program"][k - n]
            stack += [i, j]
    return sorted(found)


# ---- zero_grad and the training loop -----------------------------------------------------

def judge_zero_grad_module(case: dict, seen: dict) -> tuple[bool, str]:
    if seen["count"] != 41:
        return False, f"MLP(3, [4, 4, 1]).parameters() gave {seen['count']} parameters, not 41."
    left = [g for g in seen["grads"] + seen["custom"] if not close(g, 0.0)]
    if left:
        return False, (f"after zero_grad(), {len(left)} parameters still had a gradient (e.g. {show(left[0])}). "
                       "Likely mistake: zero_grad must set p.grad = 0 for every p in self.parameters().")
    return True, ""


def judge_zero_grad_loop(case: dict, seen: dict) -> tuple[bool, str]:
    once, twice = seen["1"], seen["2"]
    if len(once) == len(twice) and all(isinstance(a, float) and close(b, a) for a, b in zip(once, twice)):
        return True, ""
    ratio = [b / a for a, b in zip(once, twice) if isinstance(a, float) and isinstance(b, float) and abs(a) > 1e-9]
    doubled = ratio and all(abs(r - 2) < 1e-3 for r in ratio)
    message = ("with learning rate 0, two training steps left different gradients than one step "
               f"(e.g. {show(once[0])} after one step, {show(twice[0])} after two).")
    if doubled:
        message += (" They doubled: the second backward pass added to the first's gradients. Likely mistake: "
                    "call model.zero_grad() in every step, before loss.backward().")
    return False, message


def judge_train(case: dict, seen: dict, target: float | None = None) -> list[tuple[str, bool, str]]:
    """Three checks: the update is a descent step, the loss goes down, the target is reached.

    `target` overrides the case's accuracy target (for data on which a correct loop falls short of it).
    """
    target = case["target"] if target is None else target
    results = []
    numbers = all(isinstance(v, float) for key in ("before", "after", "grads", "final") for v in seen[key])
    lr = case["lr"]
    if numbers and any(abs(g) > 0 for g in seen["grads"]):
        step = [a - b for a, b in zip(seen["after"], seen["before"])]
        want = [-lr * g for g in seen["grads"]]
        descent = all(close(s, w) for s, w in zip(step, want))
        ascent = all(close(s, -w) for s, w in zip(step, want))
        hint = " Likely mistake: p.data += lr * p.grad climbs the loss; use -=." if ascent else ""
        results.append(("the update is p.data -= learning_rate * p.grad", descent,
                        "" if descent else f"after one step with learning rate {lr:g}, the parameters did not move by "
                        f"-{lr:g} * their gradient.{hint}"))
    else:
        results.append(("the update is p.data -= learning_rate * p.grad", False,
                        "after one training step no parameter had a gradient. Likely mistake: call loss.backward() "
                        "in every step, before the update."))
    losses = seen["losses"]
    falls = len(losses) == case["steps"] and all(isinstance(x, float) for x in losses) and losses[-1] < losses[0]
    results.append(("the loss goes down", falls, "" if falls else
                    f"over {case['steps']} steps the loss went from {show(losses[0]) if losses else '?'} to "
                    f"{show(losses[-1]) if losses else '?'}; it should fall."))
    accuracy = mlp_accuracy(case, seen["final"]) if numbers else 0.0
    reached = accuracy >= target
    results.append((f"the model reaches {target:.0%} accuracy on moons", reached, "" if reached else
                    f"after {case['steps']} steps the model classifies {accuracy:.0%} of the points right; "
                    f"the loop should reach {target:.0%}."))
    return results


def mlp_accuracy(case: dict, params: list[float]) -> float:
    """Accuracy of the MLP(2, nouts) with these parameters (reference order) on the case's moons."""
    from .cases import moons

    xs, ys = moons(case["points"], case["data_seed"])
    scores = mlp_scores(params, [2, *case["nouts"]], np.array(xs))
    return float(np.mean((scores > 0) == (np.array(ys) > 0)))


def mlp_scores(params: list[float], sizes: list[int], xs: np.ndarray) -> np.ndarray:
    """The first output of an MLP of these layer sizes (ReLU hidden, linear last) for each row of xs,
    computed with numpy from its parameters in micrograd's order (per neuron: weights, then bias)."""
    acts = xs
    position = 0
    for depth, (nin, nout) in enumerate(zip(sizes, sizes[1:])):
        block = np.array(params[position : position + nout * (nin + 1)]).reshape(nout, nin + 1)
        position += nout * (nin + 1)
        acts = acts @ block[:, :nin].T + block[:, nin]
        if depth < len(sizes) - 2:
            acts = np.maximum(acts, 0.0)
    return acts[:, 0]
