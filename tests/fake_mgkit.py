"""The `mgkit` command with the fake checks and short limits: the class-run tests drive the real
command line in a process (and process group) of its own, as a terminal would."""

from __future__ import annotations

import functools
import sys

from autograder import cli
from autograder.classrun import gradebook
from autograder.sandbox import Limits

gradebook.grade_all = functools.partial(gradebook.grade_all, checks="fake_checks",
                                        limits=Limits(seconds=2.0, memory_mb=256, output_bytes=64 * 1024))

if __name__ == "__main__":
    sys.exit(cli.main())
