"""A failed check of an op or of accumulation, drawn: the graph it tried, with `draw_dot`, and the
inputs whose gradient disagrees in red, each with the student's number and the finite difference's."""

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
                  and ("op" in check.case or "program" in check.case)), None)
    if check is None or not hasattr(code, "draw_dot"):
        return None
    try:
        leaves, out, want = _rebuild(check.case, code.Value)
        dot = code.draw_dot(out)
    except Exception:  # the student's code may fail anywhere here: the message still says it all
        return None
    for name, leaf in leaves.items():
        got = plain(leaf.grad)
        if not close(got, want[name]):
            label = f"{{ {name} | data {leaf.data:.4g} | your grad {show(got)} | finite difference {want[name]:.4g} }}"
            dot.node(str(id(leaf)), label=label, shape="record", **WRONG)
    return dot


def _rebuild(case: dict, value_class: type) -> tuple[dict[str, Any], Any, dict[str, float]]:
    """The case's graph again, its closures run: (the named inputs, the output, their expected gradients)."""
    from .expect import gradients

    values = case.get("vars") or dict(zip(INPUT_NAMES, case["inputs"]))
    leaves = {name: _named(value_class, x, name) for name, x in values.items()}
    for leaf, start in zip(leaves.values(), case.get("start") or []):
        leaf.grad = start
    made = list(leaves.values())
    program = case.get("program") or op_text(case)
    out = evaluate(program, leaves, made)
    run_closures_in_creation_order(out, case.get("out_grad", 1.0), made)
    if "program" in case:
        return leaves, out, gradients(program, values)
    expected = expected_op_grads(case)
    starts = case.get("start") or [0.0] * len(expected)
    return leaves, out, {name: s + g for name, s, g in zip(leaves, starts, expected)}


def _named(value_class: type, x: float, name: str) -> Any:
    value = value_class(x)
    value.label = name  # draw_dot shows it; a Value without a label attribute simply gets one
    return value
