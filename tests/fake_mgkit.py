"""The `mgkit` command with the fake entry (verdicts by the real checks) and short limits: the
class-run tests drive the real command line in a process (and process group) of its own, as a
terminal would."""

from __future__ import annotations

import functools
import sys

from fake_entry import JUDGED

from autograder import cli
from autograder.classrun import gradebook
from autograder.sandbox import Limits

gradebook.grade_all = functools.partial(
    gradebook.grade_all, entry=JUDGED, limits=Limits(seconds=2.0, memory_mb=256,
                                                     output_bytes=64 * 1024))

if __name__ == "__main__":
    sys.exit(cli.main())
