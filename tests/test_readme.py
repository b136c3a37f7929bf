"""The README's promises: its two commands, the CI script that runs the second; the task table is
the course's."""

from __future__ import annotations

import re

from autograder.reference.rubric import TASKS
from autograder.reference.solution import COURSE_ROOT, KIT_ROOT

README = (KIT_ROOT / "README.md").read_text()


def test_the_first_lines_are_the_two_commands_and_ci_runs_the_second():
    block = README.split("```bash\n", 1)[1].split("```", 1)[0]
    commands = [line.split("#", 1)[0].strip() for line in block.splitlines()]
    assert commands == ["pip install -e . && mgkit demo", 'pip install -e ".[test]" && pytest']
    ci = (KIT_ROOT / ".ci" / "run").read_text()
    assert commands[1] in ci.splitlines()


def test_the_only_task_table_is_the_generated_one_of_the_course():
    # a hand-written table would go stale when a course changes its points: the kit's README has
    # none
    assert not re.findall(r"^\| `(\w+)_backward` \| (\d+) \|", README, flags=re.MULTILINE)
    released = (COURSE_ROOT / "release" / "README.md").read_text()
    rows = re.findall(r"^\| `(\w+)` \| (\d+) \|", released, flags=re.MULTILINE)
    assert rows == [(task.id, str(task.points)) for task in TASKS]
