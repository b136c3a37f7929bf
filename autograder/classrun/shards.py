"""A stable share of a class: `grade-all --shard I/N` grades the students whose name hashes to I.

The share depends on the student's name alone (never their place in a listing), so the same
I/N picks the same students on every machine, whatever the order the files come in, and the
N shards together hold every student exactly once.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..grading.results import KIT
from ..reference.outputs import write_atomically


def parse_shard(text: str) -> tuple[int, int]:
    """"1/3" -> (1, 3): shard 1 of 3, counted from 0 as JOB_COMPLETION_INDEX and --array=0-2
    count."""
    index, _, count = text.partition("/")
    try:
        shard = int(index), int(count)
    except ValueError:
        raise ValueError(
            f"--shard {text!r}: write it as I/N, e.g. 0/3 (shards count from 0)") from None
    if not 0 <= shard[0] < shard[1]:
        raise ValueError(f"--shard {text}: I must be from 0 to N-1, e.g. 0/{max(shard[1], 1)}")
    return shard


def in_shard(student: str, shard: tuple[int, int] | None) -> bool:
    """Whether `student` is in `shard` (every student is in no shard at all: None)."""
    if shard is None:
        return True
    index, count = shard
    # not hash(): it changes with every process
    digest = hashlib.sha256(student.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count == index


# ---- completion records: a merge gathers a sharded run only once every shard finished ----------

RECORD = ".mgkit-shard.json"  # OUT/.mgkit-shard.json of every shard's run


class ShardsIncomplete(ValueError):
    """Some shards of the run have not finished (stopped, failed, cancelled or not run yet)."""


@dataclass(frozen=True)
class ShardRecord:
    """What a shard's OUT says of it: which share of which run, and whether it finished."""

    index: int
    count: int
    # the run the shards belong to (a SLURM array's job id, a Kubernetes Job's uid), or ""
    batch: str
    complete: bool
    # student -> notebook, for an nbgrader course's merge
    notebooks: dict[str, str] = field(default_factory=dict)
    # the nbgrader course folder whose gradebook.db the merge records into
    course: str | None = None

    def write(self, out: Path) -> None:
        write_atomically(out / RECORD,
                         json.dumps({
                             "kit": KIT,
                             **asdict(self)
                         }, indent=2, sort_keys=True) + "\n")

    @classmethod
    def read(cls, out: Path) -> ShardRecord | None:
        try:
            data = json.loads((out / RECORD).read_text())
            if data.pop("kit") != KIT:
                return None
            return cls(**data)
        except (OSError, ValueError, KeyError, TypeError):
            return None


def complete_shards(parts: Path, batch: str | None) -> list[tuple[Path, ShardRecord]] | None:
    """The folders of `parts` that hold the shards of one run, all complete; None if `parts` holds
    no shard.

    ShardsIncomplete, naming them, if any of the N is missing or unfinished. With `batch`, only
    that run's shards count (a folder left by an earlier run is not merged); without, the shards
    found must all be of one run.
    """
    records = {folder: record for folder in sorted(parts.iterdir()) if folder.is_dir()
               and (record := ShardRecord.read(folder)) is not None}
    if batch is not None:
        records = {folder: record for folder, record in records.items() if record.batch == batch}
        if not records:
            raise ShardsIncomplete(f"no shard of run {batch} in {parts} has started yet")
    if not records:
        return None
    runs = {(record.batch, record.count) for record in records.values()}
    if len(runs) > 1:
        raise ValueError(
            f"{parts} holds shards of {len(runs)} runs ({_runs(runs)}): merge one with --batch, or"
            " delete the folders of the others")
    (_, count), = runs
    done = {record.index: (folder, record) for folder, record in records.items() if record.complete}
    missing = [index for index in range(count) if index not in done]
    if missing:
        raise ShardsIncomplete(
            f"shard{'s' if len(missing) > 1 else ''} {', '.join(map(str, missing))} of {count}"
            " not complete (stopped, failed, cancelled or not run yet): run "
            f"{'them' if len(missing) > 1 else 'it'} again, then merge")
    return [done[index] for index in range(count)]


def _runs(runs: set[tuple[str, int]]) -> str:
    return ", ".join(f"{batch or 'no batch'} in {count}" for batch, count in sorted(runs))


def merge_sources(parts: Path, batch: str | None, results: str, gradebook: str
                  ) -> tuple[list[Path], list[Path], list[ShardRecord]]:
    """What a merge of `parts` reads: results files, gradebooks, and the shards' records (none: not
    shards)."""
    shards = complete_shards(parts, batch)
    if shards is None:  # grade-all folders of another kind (a CI job each): every one found
        return (sorted(parts.glob(f"*/{results}")) + sorted(parts.glob(f"*/*/{results}")),
                [parts / gradebook, *sorted(parts.glob(f"*/{gradebook}"))], [])
    return ([path for folder, _ in shards for path in sorted(folder.glob(f"*/{results}"))],
            [folder / gradebook for folder, _ in shards], [record for _, record in shards])


def begin(out: Path, shard: tuple[int, int], batch: str | None) -> None:
    """Mark `out` as an unfinished shard: a run stopped or killed from here on never looks
    complete."""
    ShardRecord(*shard, batch or "", complete=False).write(out)


def finish(out: Path, shard: tuple[int, int], batch: str | None, submissions: Path,
           notebooks: dict[str, Path]) -> None:
    """Mark `out` as a finished shard; for an nbgrader course, what the merge needs to record its
    grades."""
    from ..platforms import nbgrader_course

    course = nbgrader_course.find_course(submissions)
    ShardRecord(
        *shard, batch or "", complete=True, course=str(submissions.resolve()) if course else None,
        notebooks={
            student: str(path.resolve())
            for student, path in notebooks.items()
        } if course else {}).write(out)


def record_in_course(records: list[ShardRecord],
                     grades: dict) -> tuple[Path, list[str], dict[str, str]] | None:
    """Record the merged grades in the nbgrader course the shards graded, once: (course, recorded,
    not recorded)."""
    from ..platforms import nbgrader_course

    courses = {record.course for record in records if record.course}
    if not courses:
        return None
    if len(courses) > 1:
        raise ValueError(
            f"the shards graded {len(courses)} nbgrader courses ({', '.join(sorted(courses))}):"
            " merge the shards of one"
        )
    course = nbgrader_course.find_course(Path(courses.pop()))
    notebooks = {
        student: Path(path)
        for record in records
        for student, path in record.notebooks.items()
    }
    recorder = nbgrader_course.Recorder(course, {path.parent.name for path in notebooks.values()})
    recorder.ready()
    for student, grade in sorted(grades.items()):
        if grade.graded and student in notebooks:
            recorder.add(student, notebooks[student], grade.to_gradescope())
    not_recorded = {
        student: "no finished grade (see gradebook.csv): its gradebook.db rows are as they were"
        for student in notebooks if not (student in grades and grades[student].graded)
    }
    not_recorded.update(recorder.finish())
    return course.root, [student for student in sorted(notebooks)
                         if student not in not_recorded], not_recorded
