"""A failed check of an op or of accumulation, drawn: the graph it tried, with `draw_dot`, and the
inputs whose gradient disagrees in red, each with the student's number and the expected one (a
finite difference's; for accumulation, the starting gradient plus what the same closure adds)."""

from __future__ import annotations

from typing import Any

from .core import FAILED, Verdict
from .numeric import close, evaluate, plain, show
from .ops import INPUT_NAMES, expected_op_grads, op_text, run_closures_in_creation_order

WRONG = {"color": "red", "fontcolor": "red", "penwidth": "2"}


def failed_graph(verdict: Verdict, code: Any) -> Any | None:
    """The Digraph of the verdict's first failed graph check, on the student's own `Value` and
    `draw_dot`; None when there is none to draw (or the student's code cannot draw it)."""
    check = next((check for check in verdict.checks if check.state == FAILED and check.case
                  and ("op" in check.case or "program" in check.case)
                  # flat graphs only
                  and "graph" not in check.case and not check.case.get("same")), None)
    if check is None or not hasattr(code, "draw_dot"):
        return None
    try:
        leaves, out, want = _rebuild(check.case, code.Value)
        dot = code.draw_dot(out)
    except Exception:  # the student's code may fail anywhere here: the message still says it all
        return None
    for name, leaf in leaves.items():
        got = plain(leaf.grad)
        if not close(got, want[name][0]):
            label = f"{{ {name} | data {leaf.data:.4g} | your grad {show(got)} | {want[name][1]} }}"
            dot.node(str(id(leaf)), label=label, shape="record", **WRONG)
    return dot


def _rebuild(case: dict,
             value_class: type) -> tuple[dict[str, Any], Any, dict[str, tuple[float, str]]]:
    """The case's graph again, its closures run: (the named inputs, the output, each input's
    expected gradient with how it is worked out)."""
    from .expect import gradients

    if "program" in case:
        leaves, out = _run(case, value_class, case["program"], case["vars"])
        want = gradients(case["program"], case["vars"])
        return leaves, out, {name: (w, f"finite difference {w:.4g}") for name, w in want.items()}
    values = dict(zip(INPUT_NAMES, case["inputs"]))
    if "start" not in case:
        leaves, out = _run(case, value_class, op_text(case), values)
        want = expected_op_grads(case)
        return leaves, out, {
            name: (w, f"finite difference {w:.4g}")
            for name, w in zip(leaves, want)
        }
    # what the same closure adds from .grad = 0
    fresh, _ = _run(case, value_class, op_text(case), values)
    parts = [plain(leaf.grad) for leaf in fresh.values()]
    leaves, out = _run(case, value_class, op_text(case), values, case["start"])
    return leaves, out, {
        name: (s + part, f"started at {s:.4g}, expected {s:.4g} + {part:.4g} = {s + part:.4g}")
        for name, s, part in zip(leaves, case["start"], parts)
    }


def _run(case: dict, value_class: type, program: str, values: dict[str, float],
         start: list[float] | None = None) -> tuple[dict[str, Any], Any]:
    leaves = {name: _named(value_class, x, name) for name, x in values.items()}
    for leaf, grad in zip(leaves.values(), start or []):
        leaf.grad = grad
    made = list(leaves.values())
    out = evaluate(program, leaves, made)
    run_closures_in_creation_order(out, case.get("out_grad", 1.0), made)
    return leaves, out


def _named(value_class: type, x: float, name: str) -> Any:
    value = value_class(x)
    value.label = name  # draw_dot shows it; a Value without a label attribute simply gets one
    return value
