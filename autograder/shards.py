"""A stable share of a class: `grade-all --shard I/N` grades the students whose name hashes to I.

The share depends on the student's name alone (never their place in a listing), so the same
I/N picks the same students on every machine, whatever the order the files come in, and the
N shards together hold every student exactly once.
"""

from __future__ import annotations

import hashlib


def parse_shard(text: str) -> tuple[int, int]:
    """"1/3" -> (1, 3): shard 1 of 3, counted from 0 as JOB_COMPLETION_INDEX and --array=0-2 count."""
    index, _, count = text.partition("/")
    try:
        shard = int(index), int(count)
    except ValueError:
        raise ValueError(f"--shard {text!r}: write it as I/N, e.g. 0/3 (shards count from 0)") from None
    if not 0 <= shard[0] < shard[1]:
        raise ValueError(f"--shard {text}: I must be from 0 to N-1, e.g. 0/{max(shard[1], 1)}")
    return shard


def in_shard(student: str, shard: tuple[int, int] | None) -> bool:
    """Whether `student` is in `shard` (every student is in no shard at all: None)."""
    if shard is None:
        return True
    index, count = shard
    digest = hashlib.sha256(student.encode("utf-8")).digest()  # not hash(): it changes with every process
    return int.from_bytes(digest[:8], "big") % count == index
