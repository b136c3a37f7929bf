"""The grader's own traversal of a student's graph. Never shipped: it is a working topo_sort.

Closures are judged with this, not with the student's backward(), so that a broken
backward() costs only topo_sort, and an op built from other ops (tanh from exp) is
followed through every node it made.
"""

from __future__ import annotations

from typing import Any


def topological_order(out: Any) -> list:
    """Every node `out` depends on, each after all of its inputs (depth-first, no recursion)."""
    order, seen, stack = [], set(), [(out, False)]
    while stack:
        node, inputs_done = stack.pop()
        if inputs_done:
            order.append(node)
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((child, False) for child in tuple(node._prev))
    return order


def kit_backward(out: Any, out_grad: float, created: list | None = None) -> None:
    """Seed `out`, then call each node's `_backward` once, every node after all its consumers."""
    order = topological_order(out)
    out.grad = out_grad
    for node in reversed(order):
        node._backward()
