"""The grade's worker side: what runs inside a sandboxed worker, and only there.

`observe(task_id, seed, imported, passed)` runs in the untrusted worker, where the student's
`micrograd` is importable: the task's cases (those whose tasks have passed) through the
contract's public API, plain numbers out. It calls `imported()` once the student's modules are
imported. The verdict is decided elsewhere, in the trusted parent (autograder/grading/judge.py),
from the seed and these numbers alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from mgkit_checks.tasks import observe as observe_cases

from .harness import harness_for


def observe(task_id: str, seed: int, imported: Callable[[], None] = lambda: None,
            passed: Iterable[str] = ()) -> dict:
    """The worker's side: run the task's cases on the importable student package; one report per
    case."""
    harness = harness_for(task_id)
    imported()
    return {"cases": observe_cases(task_id, seed, harness, frozenset(passed))}


__all__ = ["observe"]
