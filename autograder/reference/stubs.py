"""Stubs: the reference with each solution region replaced by a `raise` that names its task.

Everything outside the regions is kept to the character, so the starter's forward pass works
and its structure is the reference's. A region's stub keeps the region's indentation:

    def _backward():
        raise NotImplementedError("mul_backward: add each input's local derivative of a * b (the "
                                  "other input), times out.grad, to its .grad")
"""

from __future__ import annotations

import json
from pathlib import Path

from . import rubric
from .markers import find_regions

WIDTH = 100  # the kit's line length (pyproject.toml), which the release keeps too


def stub_lines(task_id: str, indent: str, width: int = WIDTH) -> list[str]:
    """The lines a region becomes in the student's starter: one `raise` whose hint is cut at
    spaces into string pieces, so that no line is longer than `width`."""
    opening = f"{indent}raise NotImplementedError("
    room = width - len(opening) - len('")')  # each piece is quoted; the last one also closes
    pieces = _cut_at_spaces(rubric.BY_ID[task_id].message, max(room, 20))
    quoted = [json.dumps(piece, ensure_ascii=False) for piece in pieces]
    lines = [opening + quoted[0]] + [" " * len(opening) + piece for piece in quoted[1:]]
    lines[-1] += ")"
    return lines


def _cut_at_spaces(text: str, room: int) -> list[str]:
    """`text` in pieces of at most `room` characters each (a longer word stays whole), each
    piece but the last keeping the space it was cut at, so that they join back to `text`."""
    pieces = [""]
    for word in text.split(" "):
        if pieces[-1] and len(pieces[-1]) + len(word) + 1 > room:
            pieces.append("")
        pieces[-1] += word + " "
    pieces[-1] = pieces[-1][:-1]
    return pieces


def make_stub(path: Path, text: str | None = None) -> str:
    """The starter version of one reference file (MarkerError if its markers are malformed)."""
    text = path.read_text() if text is None else text
    lines = text.splitlines()
    out: list[str] = []
    previous_end = 0
    for region in find_regions(path, text):
        out.extend(lines[previous_end : region.begin - 1])
        out.extend(stub_lines(region.task_id, region.indent))
        previous_end = region.end
    out.extend(lines[previous_end:])
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")
