"""Stubs: the reference with each solution region replaced by a `raise` that names its task.

Everything outside the regions is kept to the character, so the starter's forward pass works
and its structure is the reference's. A region's stub keeps the region's indentation:

    def _backward():
        raise NotImplementedError("mul_backward: add each input's local derivative ...")
"""

from __future__ import annotations

import json
from pathlib import Path

from . import rubric
from .markers import find_regions


def stub_line(task_id: str, indent: str) -> str:
    """The one line a region becomes in the student's starter."""
    return f"{indent}raise NotImplementedError({json.dumps(rubric.BY_ID[task_id].message, ensure_ascii=False)})"


def make_stub(path: Path, text: str | None = None) -> str:
    """The starter version of one reference file (MarkerError if its markers are malformed)."""
    text = path.read_text() if text is None else text
    lines = text.splitlines()
    out: list[str] = []
    previous_end = 0
    for region in find_regions(path, text):
        out.extend(lines[previous_end : region.begin - 1])
        out.append(stub_line(region.task_id, region.indent))
        previous_end = region.end
    out.extend(lines[previous_end:])
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")
