"""Solution markers: find the graded regions of the reference, or say file:line what is wrong.

A region is
    ### BEGIN SOLUTION <task_id> [<task_id> ...]
    ...the lines the student writes...
    ### END SOLUTION
It names the tasks it serves (a `_backward` closure serves its op and grad_accumulation).
The marker text is nbgrader's, so nbgrader reads the same regions in notebooks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from . import rubric

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
# a comment that looks like a marker in any case or spelling ("# begin solution", "SOLUTON"):
# unless it is exactly a marker, it is an error, or a solution would reach students unstubbed
LOOKS_LIKE_MARKER = re.compile(r"^#+\s*(begin|end)\s*sol", re.IGNORECASE)


class MarkerError(ValueError):
    """A marker is malformed; the message is `file:line: what is wrong; what to do`."""


@dataclass(frozen=True)
class Region:
    path: Path
    begin: int  # 1-based line of the BEGIN marker
    end: int  # 1-based line of the END marker
    task_ids: tuple[str, ...]
    indent: str  # the BEGIN marker's indentation, which a stub keeps

    @property
    def task_id(self) -> str:
        """The task the region is first of all (its stub fails by this name)."""
        return self.task_ids[0]


def find_regions(path: Path, text: str | None = None) -> list[Region]:
    """The solution regions of one file, in order; MarkerError on the first malformed marker."""
    lines = (path.read_text() if text is None else text).splitlines()
    regions: list[Region] = []
    open_at: tuple[int, str, tuple[str, ...]] | None = None
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        where = f"{path}:{number}"
        if LOOKS_LIKE_MARKER.match(stripped) and not stripped.startswith((BEGIN, END)):
            raise MarkerError(
                f"{where}: write the marker exactly as '{BEGIN} <task_id>' or '{END}'")
        if "BEGIN SOLUTION" in stripped:
            if not stripped.startswith(BEGIN):
                raise MarkerError(f"{where}: write the marker exactly as '{BEGIN} <task_id>'")
            if open_at:
                raise MarkerError(
                    f"{where}: regions cannot nest; close the one of line {open_at[0]} with '{END}'"
                )
            open_at = (number, line[:len(line) - len(line.lstrip())],
                       _task_ids(stripped[len(BEGIN):], where))
        elif "END SOLUTION" in stripped:
            if stripped != END:
                raise MarkerError(
                    f"{where}: write the marker exactly as '{END}', alone on its line")
            if not open_at:
                raise MarkerError(f"{where}: '{END}' without a '{BEGIN} <task_id>' before it")
            begin, indent, task_ids = open_at
            if number == begin + 1:
                raise MarkerError(
                    f"{path}:{begin}: the region is empty; put the solution lines inside it")
            regions.append(Region(path, begin, number, task_ids, indent))
            open_at = None
    if open_at:
        raise MarkerError(
            f"{path}:{open_at[0]}: this region is never closed; add '{END}' after its last line")
    return regions


def _task_ids(words: str, where: str) -> tuple[str, ...]:
    task_ids = tuple(words.split())
    if not task_ids:
        raise MarkerError(
            f"{where}: name the task after the marker, one of: {', '.join(rubric.TASK_IDS)}")
    for task_id in task_ids:
        if task_id not in rubric.BY_ID:
            raise MarkerError(
                f"{where}: unknown task id '{task_id}'; use one of: {', '.join(rubric.TASK_IDS)}")
    return task_ids


def check_every_task_has_a_region(regions: Iterable[Region], where: str) -> None:
    """MarkerError naming the task ids that no region serves."""
    covered = {task_id for region in regions for task_id in region.task_ids}
    missing = [task_id for task_id in rubric.TASK_IDS if task_id not in covered]
    if missing:
        raise MarkerError(
            f"{where}: no solution region for {', '.join(missing)}; wrap its code in '{BEGIN}"
            " <task_id>'"
        )
