"""topo_sort: the student's backward() orders the graph, seeds the output, calls each closure once.

A case builds a graph of + and * from a small program, replaces every node's `_backward` with
a recorder, and calls the student's `backward()` on the output. The judge asks that each op
that the output depends on ran exactly once, after every op that uses it, with the output
seeded to 1. Nothing here sorts a graph: the worker of this task holds no sort.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from .core import FAILED, PASSED, Check, Definition, Diagnosis, Harness
from .numeric import away_from_zero, close, plain, show


def topo_cases(rng: random.Random) -> list[dict]:
    again = {**_diamond(rng), "label": "a second graph after a first", "again": True}
    twice = {
        **_random_graph(rng, 8), "label": "the same graph twice (every .grad set to 0 between)",
        "twice": True
    }
    return [_diamond(rng), _random_graph(rng, 12), _chain(rng, 150), again, twice]


def _diamond(rng: random.Random) -> dict:
    # a, b; c = a * b; d = c + a; e = c * d: c feeds two ops, a feeds two ops
    return {
        "label": "a diamond",
        "leaves": [away_from_zero(rng, 0.5, 2),
                   away_from_zero(rng, 0.5, 2)],
        "program": [["*", 0, 1], ["+", 2, 0], ["*", 2, 3]],
        "output": 4
    }


def _random_graph(rng: random.Random, ops: int) -> dict:
    leaves = [away_from_zero(rng, 0.5, 1.5) for _ in range(4)]
    program = []
    for k in range(ops):
        size = len(leaves) + k
        program.append([
            rng.choice("+*"),
            rng.randrange(max(0, size - 6), size),
            rng.randrange(size)
        ])
    return {"label": f"a random graph of {ops} ops", "leaves": leaves, "program": program,
            "output": len(leaves) + ops - 1}


def _chain(rng: random.Random, ops: int) -> dict:
    program = [["+", k, 0] for k in range(ops)]  # x1 = x0 + x0, x2 = x1 + x0, ...
    return {
        "label": f"a chain of {ops} ops",
        "leaves": [away_from_zero(rng, 0.5, 1.5)],
        "program": program,
        "output": ops
    }


def observe_backward(case: dict, harness: Harness) -> dict:
    """Which closures the student's backward() called, in order, and the output's gradient then; for
    a second graph, also how many closures of the first graph the second backward() called; for the
    same graph twice, the first call's report and the second's (every .grad set to 0 between)."""
    if case.get("twice"):
        nodes = _graph(case, harness)
        first = _run(case, nodes, [])
        for node in nodes:
            node.grad = 0  # what a caller may do between passes: the contract's own reset
        return {**_run(case, nodes, []), "first": first}
    if not case.get("again"):
        return _run(case, _graph(case, harness), [])
    first_calls: list[int] = []
    _run(case, _graph(case, harness), first_calls)
    before = len(first_calls)
    return {**_run(case, _graph(case, harness), []), "earlier": len(first_calls) - before}


def _graph(case: dict, harness: Harness) -> list:
    nodes = [harness.Value(x) for x in case["leaves"]]
    for op, i, j in case["program"]:
        nodes.append(nodes[i] + nodes[j] if op == "+" else nodes[i] * nodes[j])
    return nodes


def _run(case: dict, nodes: list, calls: list[int]) -> dict:
    output = case["output"]
    seed: list = []

    def recorder(index: int, node: Any) -> Callable[[], None]:
        def record() -> None:
            calls.append(index)
            if index == output:
                seed.append(plain(node.grad))
        return record

    for index, node in enumerate(nodes):
        node._backward = recorder(index, node)
    nodes[output].backward()
    # a copy: a later pass must not change it
    return {"calls": list(calls), "seed": seed[0] if seed else None}


def judge_backward(case: dict, report: dict) -> Check:
    if not case.get("twice"):
        return _judge_pass(case, report)
    first = _judge_pass(case, report["first"])
    if first.state != PASSED:
        return first  # the first call's own mistake: named as on any graph
    second = _judge_pass(
        case, report, "a second backward() on the same graph ({ops} ops), every .grad set to 0 "
        "first,")
    if second.state == PASSED:
        return second
    return _failed(
        case["label"],
        second.message,
        "keeps_state",
        "backward() kept what its first call visited: a visited set (or topo) at module level, on"
        " the class or as a default argument is shared by every call; build visited inside"
        " backward().",
    )


def _judge_pass(case: dict, report: dict, what: str = "backward() on {label} ({ops} ops)") -> Check:
    label, calls, seed = case["label"], report["calls"], report["seed"]
    needed = _ops_the_output_needs(case)
    what = what.format(label=label, ops=len(needed))
    if report.get("earlier"):
        return _failed(
            label, f"backward() on a second graph also called {report['earlier']} closures of the "
            "first graph, whose backward pass was over", "keeps_state",
            "backward() kept the first graph between calls: a default argument such as topo=[] or "
            "visited=set() is made once and shared by every call; make them inside backward().")
    counts = {k: calls.count(k) for k in set(calls)}
    twice = [k for k, c in counts.items() if c > 1]
    if twice:
        return _failed(label, f"{what} called the _backward of a node {counts[twice[0]]} times",
                       "visits_twice",
                       "no visited set, so a value used by two ops is added to topo twice.")
    missing = [k for k in needed if k not in counts]
    if missing:
        return _failed(
            label, f"{what} called {len(needed) - len(missing)} of the {len(needed)} op closures",
            "misses_nodes", "call _backward on every node of topo, not only on the output.")
    if seed is None or not close(seed, 1.0):
        return _failed(label, f"{what}: when the output's _backward ran, out.grad was {show(seed)}",
                       "not_seeded", "seed the output first with self.grad = 1.")
    position, users = {k: i for i, k in enumerate(calls)}, _users(case)
    for k in needed:
        if any(position[user] > position[k] for user in users.get(k, ()) if user in position):
            return _failed(
                label,
                f"{what} ran the _backward of a value before that of an op that uses it, so its "
                "gradient was not complete yet", "wrong_order",
                "go through topo in reverse (the output first).")
    return Check(label, PASSED)


def _failed(label: str, message: str, mistake: str, advice: str) -> Check:
    return Check(label, FAILED, message, (Diagnosis(f"topo_sort/{mistake}", advice),))


def _users(case: dict) -> dict[int, list[int]]:
    """For each node of the case's program, the op nodes that take it as an input."""
    n = len(case["leaves"])
    users: dict[int, list[int]] = {}
    for k, (_, i, j) in enumerate(case["program"]):
        for child in {i, j}:
            users.setdefault(child, []).append(n + k)
    return users


def _ops_the_output_needs(case: dict) -> list[int]:
    """The op nodes (not leaves) of the case's program that the output depends on."""
    n = len(case["leaves"])
    found, stack = set(), [case["output"]]
    while stack:
        k = stack.pop()
        if k >= n and k not in found:
            found.add(k)
            _, i, j = case["program"][k - n]
            stack += [i, j]
    return sorted(found)


DEFINITIONS = (Definition("topo_sort", topo_cases, observe_backward, judge_backward, "`backward()`",
                          parts=(), trains=True), )
