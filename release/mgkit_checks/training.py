"""zero_grad and training_loop: the student's nn.py and train.py, on a model the kit builds.

training_loop: a dry run on stand-ins for Values, which needs no engine at all, must call the
model on every point, loss_fn and loss.backward() once a step, and move every parameter after
that step's backward(), by a gradient read after it and not zeroed in between (the order
names what a loop that does not learn does instead); single steps of `train(model, xs, ys,
steps=1, learning_rate=..., loss_fn=..., alpha=...)`, each from fresh Values set to where the
last step left them, must land where one step of gradient descent lands (the parent works
that out with numpy and finite differences, from the parameters alone); two steps in one call
must land where two steps land, from this step's gradients (zeroed, or piled up by a loop that
never zeroes: that is zero_grad's to judge); and `train(model, xs, ys, steps=4)` must run with
its own defaults. The kit's model zeroes for real, so zeroing after backward() shows.

zero_grad: `Module.zero_grad()` clears every parameter of any Module; and, once the training
loop passes, training with learning rate 0 for two steps must leave the gradients one step
leaves (the loop zeroes them before each backward pass).
"""

from __future__ import annotations

import math
import random
from typing import Any

from .core import FAILED, PASSED, Check, Definition, Diagnosis, Harness, describe
from .numeric import all_close, close, moons, plain, show

DEFAULT_LOSS, DEFAULT_ALPHA = "max_margin", 1e-4  # train()'s own defaults in the starter
DEFAULTS_RUN_STEPS = 4


def squared_loss(scores: list, ys: list) -> Any:
    return sum((score - y) ** 2 for score, y in zip(scores, ys)) / len(ys)


def max_margin_loss(scores: list, ys: list) -> Any:
    return sum((1 - y * score).relu() for score, y in zip(scores, ys)) / len(ys)


# their slopes, for the expected step, in expect.SLOPES
LOSS_FUNCTIONS = {"squared": squared_loss, "max_margin": max_margin_loss}


class FreshGradients:
    """The base of the kit's model in training_loop's numeric checks: each step starts from fresh
    Values, so there is nothing for zero_grad to do (where the loop zeroes is the dry run's to
    judge; zero_grad's own checks use the student's Module). No working zero_grad ships."""

    def zero_grad(self) -> None:
        pass


def make_model(value_class: type, base: type, nouts: list[int], seed: int) -> Any:
    """MLP(2, nouts) as the reference builds it (ReLU hidden, linear last layer), weights from
    `seed`."""
    rng = random.Random(seed)
    sizes = [2, *nouts]

    class MLP(base):
        def __init__(self) -> None:
            self.layers = [[([value_class(rng.uniform(-1, 1))
                              for _ in range(sizes[i])], value_class(0.0)) for _ in range(n)]
                           for i, n in enumerate(nouts)]

        def __call__(self, x: list) -> Any:
            for depth, layer in enumerate(self.layers):
                acts = [sum((w * xi for w, xi in zip(ws, x)), b) for ws, b in layer]
                x = acts if depth == len(self.layers) - 1 else [a.relu() for a in acts]
            return x[0] if len(x) == 1 else x

        def parameters(self) -> list:
            return [p for layer in self.layers for ws, b in layer for p in (*ws, b)]

    return MLP()


class _Number:
    def __init__(self, data: float) -> None:
        self.data = data


def initial_parameters(case: dict) -> list[float]:
    return [
        p.data for p in make_model(_Number, object, case["nouts"], case["model_seed"]).parameters()
    ]


def _losses(history: Any) -> list:
    return [plain(loss) for loss in getattr(history, "losses", None) or []]


# ---- training_loop ------------------------------------------------------------------------------

class _Traced:
    """A stand-in for a Value in the dry run: any arithmetic gives it back, and backward() is
    counted (and gives every parameter a gradient)."""

    def __init__(self, log: dict) -> None:
        self.log, self.data, self.grad = log, 0.0, 0.0

    def _same(self, other: Any) -> _Traced:
        return _Traced(self.log)

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __pow__ = _same

    def relu(self) -> _Traced:
        return self

    def backward(self) -> None:
        self.log["backward"] += 1
        self.log["events"].append(["backward", -1])
        for parameter in self.log["parameters"]:
            parameter._grad = 1.0


class _TracedParameter(_Traced):
    """A parameter of the dry run's model: reading its gradient, zeroing it and moving it are
    logged."""

    def __init__(self, log: dict, index: int) -> None:
        self.log, self.index, self._data, self._grad = log, index, 0.5, 0.0

    @property
    def data(self) -> Any:
        return self._data

    @data.setter
    def data(self, value: Any) -> None:  # logged with how far it moved, when both are numbers
        moved = self._data - value if all(type(x) is float for x in (self._data, value)) else None
        self.log["events"].append(["update", self.index, moved, self._data])
        self._data = value

    @property
    def grad(self) -> Any:
        self.log["events"].append(["read", self.index])
        return self._grad

    @grad.setter
    def grad(self, value: Any) -> None:
        self.log["events"].append(["zero" if value == 0 else "set", self.index])
        self._grad = value


class _TracedModel:
    def __init__(self, log: dict) -> None:
        self.log = log
        log["parameters"] = [_TracedParameter(log, index) for index in range(DRY_RUN_PARAMETERS)]

    def __call__(self, x: list) -> _Traced:
        self.log["model"] += 1
        return _Traced(self.log)

    def parameters(self) -> list:
        return list(self.log["parameters"])

    def zero_grad(self) -> None:
        for parameter in self.log["parameters"]:
            parameter.grad = 0.0


# what an error of the student's loop calls the stand-ins: the names a student knows, none of the
# kit's
for _stand_in, _shown_as in ((_Traced, "Value"), (_TracedParameter, "Value"), (_TracedModel,
                                                                               "Model")):
    _stand_in.__name__ = _stand_in.__qualname__ = _shown_as

DRY_RUN_PARAMETERS = 2
DRY_RUN_RATE = 0.1


def _observe_dry_run(case: dict, harness: Harness) -> dict:
    log = {"model": 0, "loss_fn": 0, "backward": 0, "events": []}

    def loss_fn(scores: list, ys: list) -> _Traced:
        log["loss_fn"] += 1
        return _Traced(log)

    xs, ys = moons(case["points"], case["data_seed"])
    harness.train.train(_TracedModel(log), xs, ys, steps=case["dry_run"],
                        learning_rate=DRY_RUN_RATE, loss_fn=loss_fn, alpha=0.0)
    log.pop("parameters")
    return log


def _judge_dry_run(case: dict, report: dict) -> Check:
    steps, points = case["dry_run"], case["points"]
    want = {"model": steps * points, "loss_fn": steps, "backward": steps}
    if not all(report[key] == count for key, count in want.items()):
        message = (
            f"train(model, xs, ys, steps={steps}) on {points} points called the model"
            f" {report['model']} times, loss_fn {report['loss_fn']} times and loss.backward()"
            f" {report['backward']} times; a loop of {steps} steps calls them {steps * points},"
            f" {steps} and {steps} times"
        )
        if report["loss_fn"] == 0:
            mistake = IGNORES_LOSS_FN
        elif report["backward"] == 0:
            mistake = Diagnosis("training_loop/no_backward",
                                "call loss.backward() in every step, before the update.")
        else:
            mistake = Diagnosis(
                "training_loop/not_every_step",
                "each step computes the scores of every point, the loss, then one backward pass.")
        return Check(case["label"], FAILED, message, (mistake,))
    found = _order_mistake([tuple(event) for event in report["events"]], steps)
    if found is None:
        return Check(case["label"], PASSED)
    what, mistake, advice = found
    return Check(case["label"], FAILED, f"in train(model, xs, ys, steps={steps}), {what}",
                 (Diagnosis(f"training_loop/{mistake}", advice),))


def _order_mistake(events: list[tuple[str, int]], steps: int) -> tuple[str, str, str] | None:
    """What the loop did instead of moving each parameter once a step, after that step's backward(),
    by a gradient read after it and not zeroed in between: (what happened, mistake id, advice)."""
    updates = [event for event in events if event[0] == "update"]
    if not updates:
        return (
            "no parameter was ever changed",
            "no_update",
            (
                "after loss.backward(), move every parameter against its gradient: p.data -= lr *"
                " p.grad."
            ),
        )
    backward_at = [k for k, event in enumerate(events) if event[0] == "backward"]
    if any(k < backward_at[0] for k, event in enumerate(events) if event[0] == "update"):
        return (
            "a parameter was moved before the first loss.backward()",
            "update_before_backward",
            (
                "call loss.backward() first, then move the parameters: an update before it uses the"
                " last step's gradients (or none)."
            ),
        )
    # each step, from its backward on
    for begin, end in zip(backward_at, [*backward_at[1:], len(events)]):
        after = events[begin + 1 : end]
        for index in range(DRY_RUN_PARAMETERS):
            seen = [kind for kind, i, *_ in after if i == index]
            if "update" not in seen:
                return ("a step's loss.backward() was not followed by an update of every parameter",
                        "not_every_parameter",
                        "move every parameter in every step, after loss.backward().")
            before = seen[: seen.index("update")]
            if "zero" in before:
                return (
                    (
                        "the gradients were set to 0 between loss.backward() and the update, so the"
                        " update moved nothing"
                    ),
                    "zeroes_before_update",
                    (
                        "zero the gradients at the start of each step, before "
                        "the forward pass, not between loss.backward() and the update."
                    ),
                )
            if not any(event[:2] == ("read", index) for event in events):
                return _gradient_unused(
                    next(event for event in after if event[:2] == ("update", index)))
            if "read" not in before:
                return (
                    "the update did not read p.grad after this step's loss.backward()",
                    "stale_gradients",
                    (
                        "move each parameter by the gradient this step's loss.backward() left in"
                        " p.grad."
                    ),
                )
    return None


def _gradient_unused(update: tuple) -> tuple[str, str, str]:
    """A parameter moved though its p.grad was never read: by lr * p.data, by lr alone, or
    otherwise."""
    _, _, moved, data = update
    if moved is not None and close(moved, DRY_RUN_RATE * data):
        return (
            (
                f"a parameter at {data:g} moved by {moved:g}, lr times its own value: the update"
                " used p.data where the gradient belongs"
            ),
            *DATA_NOT_GRAD,
        )
    if moved is not None and close(moved, DRY_RUN_RATE):
        return (
            (
                f"a parameter moved by lr = {DRY_RUN_RATE:g} and p.grad was never read: the update"
                " left out the gradient"
            ),
            *GRADIENT_MISSING,
        )
    return ("the parameters moved, but no update ever read p.grad", "gradient_unused",
            "move each parameter by its own gradient, read from p.grad after loss.backward(): "
            "p.data -= lr * p.grad.")


DATA_NOT_GRAD = (
    "data_not_grad",
    "move each parameter against its gradient: p.data -= lr * p.grad, not lr * p.data.")
GRADIENT_MISSING = ("gradient_missing",
                    "multiply the learning rate by each parameter's gradient: p.data -= lr * "
                    "p.grad, not p.data -= lr.")
IGNORES_LOSS_FN = Diagnosis("training_loop/ignores_loss_fn",
                            "use the loss_fn that train() is given, not a fixed loss.")


def training_cases(rng: random.Random) -> list[dict]:
    model = {
        "points": 16,
        "nouts": [5, 1],
        "data_seed": rng.randrange(10**6),
        "model_seed": rng.randrange(10**6),
        "engine": True
    }
    # a loss other than the default, and an alpha far from it, so that ignoring either shows
    steps = [
        {
            "lr": round(rng.uniform(0.05, 0.5), 3),
            "loss": "squared",
            "alpha": round(rng.uniform(0.02, 0.1), 3)
        },
        {
            "lr": round(rng.uniform(0.05, 0.5), 3),
            "loss": "max_margin",
            "alpha": 0.0
        },
        {
            "lr": round(rng.uniform(0.05, 0.5), 3),
            "loss": "squared",
            "alpha": 0.0
        },
    ]
    # no engine: only stand-ins
    dry_run = {key: value for key, value in model.items() if key != "engine"}
    two = {"lr": round(rng.uniform(0.05, 0.5), 3), "loss": "squared", "alpha": 0.0}
    return [{
        **dry_run, "label":
        "a dry run: every step calls the model, loss_fn and backward, then moves every "
        "parameter",
        "dry_run":
        3
    }, {
        **model, "label": "three single steps of gradient descent",
        "steps": steps
    }, {
        **model, "label": "two steps of gradient descent in one call",
        "two_steps": two
    }, {
        **model, "label": f"train(model, xs, ys, steps={DEFAULTS_RUN_STEPS}) with its own defaults",
        "defaults": True
    }]


def observe_training(case: dict, harness: Harness) -> dict:
    if case.get("dry_run"):
        return _observe_dry_run(case, harness)
    xs, ys = moons(case["points"], case["data_seed"])
    if case.get("defaults"):
        model = make_model(harness.Value, FreshGradients, case["nouts"], case["model_seed"])
        return {"losses": _losses(harness.train.train(model, xs, ys, steps=DEFAULTS_RUN_STEPS))}
    if case.get("two_steps"):
        step = case["two_steps"]
        model = make_model(harness.Value, FreshGradients, case["nouts"], case["model_seed"])
        harness.train.train(model, xs, ys, steps=2, learning_rate=step["lr"],
                            loss_fn=LOSS_FUNCTIONS[step["loss"]], alpha=step["alpha"])
        return {"params": [plain(p.data) for p in model.parameters()]}
    taken, params = [], None
    for step in case["steps"]:
        model = make_model(harness.Value, FreshGradients, case["nouts"], case["model_seed"])
        for p, value in zip(model.parameters(), params or []):
            p.data = value
        harness.train.train(model, xs, ys, steps=1, learning_rate=step["lr"],
                            loss_fn=LOSS_FUNCTIONS[step["loss"]], alpha=step["alpha"])
        params = [plain(p.data) for p in model.parameters()]
        taken.append(params)
        if not all(isinstance(x, float) for x in params):
            break
    return {"params": taken}


def judge_training(case: dict, report: dict) -> Check:
    if case.get("dry_run"):
        return _judge_dry_run(case, report)
    if case.get("two_steps"):
        return _judge_two_steps(case, report)
    return _judge_defaults(case, report) if case.get("defaults") else _judge_steps(case, report)


def _judge_two_steps(case: dict, report: dict) -> Check:
    from .expect import two_steps

    step, params, got = case["two_steps"], initial_parameters(case), report["params"]
    zeroed, piled = two_steps(case, params, step["lr"], step["loss"], step["alpha"])
    if all_close(got, zeroed) or all_close(got, piled):
        return Check(case["label"], PASSED)
    call = f"train(model, xs, ys, steps=2, learning_rate={step['lr']:g}, loss_fn=squared_loss)"
    left, want = _where_apart(got, zeroed, case["nouts"])
    message = (
        f"{call} left {left}; two steps of gradient descent, each by the gradient of its own"
        f" loss after its own loss.backward(), give {want}"
    )
    found = [Diagnosis("training_loop/no_update", NO_UPDATE)] if all_close(got, params) else []
    one = [p - step["lr"] * g for p, g in zip(params, _gradient(case, params, step))]
    if all_close(got, one):
        found.append(
            Diagnosis(
                "training_loop/stale_gradients", "only one step's worth of movement: each update "
                "must use the gradient of this step's loss, after this step's loss.backward()."))
    return Check(case["label"], FAILED, message, tuple(found))


def _gradient(case: dict, params: list[float], step: dict) -> list[float]:
    from .expect import training_gradient

    return training_gradient(case, params, step["loss"], step["alpha"])


def _judge_defaults(case: dict, report: dict) -> Check:
    losses = report["losses"]
    if len(losses) == DEFAULTS_RUN_STEPS and all(
            isinstance(x, float) and math.isfinite(x) for x in losses):
        return Check(case["label"], PASSED)
    recorded = ", ".join(map(show, losses)) or "none"
    return Check(
        case["label"], FAILED, f"{case['label']} recorded the losses {recorded}; it should record "
        f"{DEFAULTS_RUN_STEPS} finite losses, one per step")


NO_UPDATE = (
    "the parameters did not move: call loss.backward() in every step, then move every parameter "
    "against its gradient.")


def _shown(values: list) -> str:
    return ", ".join(show(v) for v in values[:3])


RATE_IS_A_FUNCTION = Diagnosis(
    "training_loop/rate_is_a_function",
    "learning_rate may be a schedule, a function f(step, steps): the loop works out lr, "
    "the number for this step; move the parameters by lr times their gradient.")

DIVERGES = Diagnosis(
    "training_loop/diverges", "the loss grew without bound: check first that the update goes "
    "down the gradient (p.data -= lr * p.grad), then the learning rate.")


def rate_mistake(error: str) -> Diagnosis | None:
    """The likely mistake behind an error of train(), when it is a classic one."""
    if "'function'" in error and "operand" in error:
        return RATE_IS_A_FUNCTION
    return DIVERGES if "the loss became" in error or "OverflowError" in error else None


def _judge_steps(case: dict, report: dict) -> Check:
    from .expect import training_step

    params = initial_parameters(case)
    for number, (step, got) in enumerate(zip(case["steps"], report["params"]), start=1):
        want = training_step(case, params, step["lr"], step["loss"], step["alpha"])
        if not all_close(got, want):
            call = (f"train(model, xs, ys, steps=1, learning_rate={step['lr']:g}, "
                    f"loss_fn={LOSS_FUNCTIONS[step['loss']].__name__}, alpha={step['alpha']:g})")
            left, gives = _where_apart(got, want, case["nouts"])
            message = (
                f"step {number}: {call} left {left}; one step of gradient descent (p.data -="
                f" learning_rate * p.grad, on loss_fn + alpha * the sum of p**2) gives {gives}"
            )
            return Check(case["label"], FAILED, message,
                         tuple(_step_mistakes(case, params, step, got)))
        params = want
    if len(report["params"]) != len(case["steps"]):
        return Check(case["label"], FAILED, "the parameters were not numbers after a step",
                     (Diagnosis("training_loop/not_a_number",
                                "keep p.data a number: update it with floats."), ))
    return Check(case["label"], PASSED)


def _where_apart(got: list, want: list[float], nouts: list[int]) -> tuple[str, str]:
    """Where the student's parameters first part from the expected ones, and what is expected
    there: ("parameter 15 of 21 (layer 1, neuron 5's bias) at 0.005985", "0.007129"); the first
    three when the counts differ."""
    if len(got) == len(want) and len(got) > 1:
        index = next(i for i, (g, w) in enumerate(zip(got, want)) if not close(g, w))
        return (f"parameter {index + 1} of {len(got)} ({_named(index, [2, *nouts])}) at"
                f" {show(got[index])}", show(want[index]))
    if not got:
        return "no parameters", _shown(want)
    shown = ", ".join(show(v) for v in got[:3])
    left = f"the first {min(3, len(got))} parameters at {shown}" if len(got) > 1 else \
        f"the parameter at {shown}"
    return left, _shown(want)


def _named(index: int, sizes: list[int]) -> str:
    """Which weight or bias parameters()[index] is, in micrograd's order: "layer 1, neuron 5's
    bias"."""
    first = 0  # the index of the layer's first parameter
    for layer, (nin, nout) in enumerate(zip(sizes, sizes[1:]), start=1):
        if index < first + nout * (nin + 1):
            neuron, position = divmod(index - first, nin + 1)
            part = "bias" if position == nin else f"weight {position + 1}"
            return f"layer {layer}, neuron {neuron + 1}'s {part}"
        first += nout * (nin + 1)
    raise IndexError(f"an MLP of layer sizes {sizes} has no parameter {index}")


def _step_mistakes(case: dict, params: list[float], step: dict, got: list) -> list[Diagnosis]:
    from .expect import training_step

    lr, loss, alpha = step["lr"], step["loss"], step["alpha"]
    alternatives = [
        ("no_update", NO_UPDATE, lambda: params),
        ("ascent", "p.data += lr * p.grad climbs the loss; use -= to go down.",
         lambda: training_step(case, params, -lr, loss, alpha)),
        (IGNORES_LOSS_FN.id.partition("/")[2], IGNORES_LOSS_FN.advice,
         lambda: training_step(case, params, lr, DEFAULT_LOSS, alpha)),
        ("ignores_alpha",
         "add alpha times the sum of squared parameters (l2_penalty) with the alpha train() is "
         "given.", lambda: training_step(case, params, lr, loss, DEFAULT_ALPHA)),
        ("ignores_alpha",
         "add alpha times the sum of squared parameters (l2_penalty) with the alpha train() is "
         "given.", lambda: training_step(case, params, lr, loss, 0.0)),
        (*DATA_NOT_GRAD, lambda: [p - lr * p for p in params]),
        (*GRADIENT_MISSING, lambda: [p - lr for p in params]),
    ]
    found = [Diagnosis(f"training_loop/{name}", advice) for name, advice, step_of in alternatives
             if all_close(got, step_of())]
    if not found and _same_direction(params, got, training_step(case, params, lr, loss, alpha)):
        found.append(
            Diagnosis(
                "training_loop/wrong_rate", "move each parameter by the step's learning rate lr "
                "times its gradient, no more, no less."))
    return found


def _same_direction(params: list[float], got: list, want: list[float]) -> bool:
    """Whether the parameters moved along the right direction, by another factor than the learning
    rate."""
    if not all(isinstance(x, float) for x in got):
        return False
    moved, right = [g - p for g, p in zip(got, params)], [w - p for w, p in zip(want, params)]
    norm = sum(r * r for r in right)
    factor = sum(m * r for m, r in zip(moved, right)) / norm if norm else 0.0
    return factor > 0 and not close(factor, 1.0) and all_close(moved, [factor * r for r in right])


# ---- zero_grad ----------------------------------------------------------------------------------

def zero_grad_cases(rng: random.Random) -> list[dict]:
    return [{
        "label": "Module.zero_grad()"
    }, {
        "label": "training zeroes the gradients before each backward pass",
        "needs": ["training_loop"],
        "engine": True,
        "loop": True,
        "points": 12,
        "nouts": [4, 1],
        "data_seed": rng.randrange(10**6),
        "model_seed": rng.randrange(10**6)
    }]


def observe_zero_grad(case: dict, harness: Harness) -> dict:
    return _observe_loop(case, harness) if case.get("loop") else _observe_module(harness)


def _observe_module(harness: Harness) -> dict:
    mlp = harness.nn.MLP(3, [4, 4, 1])
    params = mlp.parameters()
    for k, p in enumerate(params):
        p.grad = 0.5 + k
    mlp.zero_grad()

    class Module(harness.nn.Module):  # any Module: zero_grad must go through parameters()
        def __init__(self) -> None:
            self.a, self.b = harness.Value(1.0), harness.Value(2.0)

        def parameters(self) -> list:
            return [self.a, self.b]

    custom = Module()
    custom.a.grad, custom.b.grad = 3.0, -4.0
    report = {"count": len(params), "grads": [plain(p.grad) for p in params]}
    try:
        custom.zero_grad()
    # it reached for what an MLP has (self.layers): say so without the kit's class
    except AttributeError as error:
        return {
            **report, "custom_error":
            describe(error).replace("'Module' object", "a Module that is not an MLP")
        }
    return {**report, "custom": [plain(custom.a.grad), plain(custom.b.grad)]}


def _observe_loop(case: dict, harness: Harness) -> dict:
    """Train with learning rate 0 for 1 and for 2 steps: zeroed gradients come out the same."""
    xs, ys = moons(case["points"], case["data_seed"])
    grads = {}
    for steps in (1, 2):
        model = make_model(harness.Value, harness.nn.Module, case["nouts"], case["model_seed"])
        harness.train.train(model, xs, ys, steps=steps, learning_rate=0.0)
        grads[str(steps)] = [plain(harness.grad_of(p)) for p in model.parameters()]
    return grads


def judge_zero_grad(case: dict, report: dict) -> Check:
    return _judge_loop(case, report) if case.get("loop") else _judge_module(case, report)


def _judge_module(case: dict, report: dict) -> Check:
    if "custom_error" in report:
        diagnosis = Diagnosis("zero_grad/not_through_parameters",
                              "go through self.parameters() in zero_grad: every Module lists its "
                              "parameters, not every one has layers.")
        return Check(case["label"], FAILED, "zero_grad() on a Module with two parameters and no "
                     f"layers raised {report['custom_error']}", (diagnosis,))
    if report["count"] != 41:
        return Check(case["label"], FAILED,
                     f"MLP(3, [4, 4, 1]).parameters() gave {report['count']} parameters, "
                     "not 41", (Diagnosis("zero_grad/parameters",
                                          "parameters() must list every weight and bias."), ))
    left = [g for g in report["grads"] + report["custom"] if not close(g, 0.0)]
    if left:
        return Check(
            case["label"], FAILED,
            f"after zero_grad(), {len(left)} parameters still had a gradient "
            f"(e.g. {show(left[0])})",
            (Diagnosis("zero_grad/leaves_gradients",
                       "set p.grad = 0 for every p in self.parameters()."), ))
    return Check(case["label"], PASSED)


def _judge_loop(case: dict, report: dict) -> Check:
    once, twice = report["1"], report["2"]
    if len(once) == len(twice) and all(
            isinstance(a, float) and close(b, a) for a, b in zip(once, twice)):
        return Check(case["label"], PASSED)
    message = (
        "with learning rate 0, two training steps left other gradients than one step "
        f"({show(once[0])} after one step, {show(twice[0])} after two, for the first parameter)")
    ratios = [
        b / a for a, b in zip(once, twice)
        if isinstance(a, float) and isinstance(b, float) and abs(a) > 1e-9
    ]
    doubled = ratios and all(abs(r - 2) < 1e-3 for r in ratios)
    never_zeroes = Diagnosis("zero_grad/loop_never_zeroes",
                             "the second backward pass added to the first's gradients: "
                             "call model.zero_grad() in every step, before loss.backward().")
    diagnoses = (never_zeroes,) if doubled else ()
    return Check(case["label"], FAILED, message, diagnoses)


# training a model takes longer than running a closure; a demo left in train.py too
TRAINING_SECONDS = 20.0
# the grade trains on its own engine: engine bugs cannot reach these
ON_KIT_ENGINE = ("traversal", "trusted")

DEFINITIONS = (  # the loop first: zero_grad's cases run it
    Definition("training_loop", training_cases, observe_training, judge_training,
               "the loop in `train()`", ("engine", "train"), rate_mistake, seconds=TRAINING_SECONDS,
               parts=ON_KIT_ENGINE),
    Definition("zero_grad", zero_grad_cases, observe_zero_grad, judge_zero_grad,
               "`Module.zero_grad()` or the training loop", ("engine", "nn", "train"),
               needs=("training_loop", ), seconds=TRAINING_SECONDS, parts=ON_KIT_ENGINE),
)
