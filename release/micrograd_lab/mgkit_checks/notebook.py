"""The public checks for the notebook: one task's checks, run on the code defined in the notebook.

    from mgkit_checks.notebook import check

    message = check("mul_backward", globals())
    assert message is None, message

Every `micrograd` module lives in the notebook's one namespace, so that namespace stands in
for the package's engine, nn and train. The check cell asserts itself, so that a failure
shows the cell and the message, and no frame of the kit.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from .public import check as public_check


def check(task_id: str, namespace: dict[str, Any]) -> str | None:
    """None when the task's public checks pass on the notebook's code, else what went wrong."""
    code = SimpleNamespace(**namespace)
    return public_check(task_id, SimpleNamespace(engine=code, nn=code, train=code))
