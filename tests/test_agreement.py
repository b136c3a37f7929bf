"""The preview, as the student's own kit runs it, against the grade, in the states students reach.

The preview runs in the submission's folder, importing `micrograd` as the student's pytest does
(with the notebook extra's libraries installed here), in a process forked for it from an
interpreter that has imported the checks and nothing of a student's; the grade in the sandbox.
A task the preview decides must be decided the same way by the grade; the states below must also
be decided (or, where the preview cannot see, left to the grade), never shown passed when the
grade fails them.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import selected_params
from mutants import MUTANTS, VARIANTS, Edit, apply, sweep

from autograder.grading.loop import grade
from autograder.grading.results import GradingResults
from autograder.reference.solution import KIT_ROOT
from mgkit_checks import world
from mgkit_checks.core import UNDECIDED
from mgkit_checks.tasks import JUDGING_ORDER

SEED = 11
NN_TASKS = ("zero_grad", "training_loop")
ENGINE_ONLY = tuple(task for task in JUDGING_ORDER if task not in NN_TASKS)
DEMO = '''


if True:  # a quick demo left at the bottom of the file: it runs whenever train.py is imported
    from .nn import MLP as _MLP

    _xs, _ys = make_moons(40, noise=0.1, seed=1)
    print(train(_MLP(2, [8, 8, 1]), _xs, _ys, steps=10).losses[-1])
'''
RESET = ("engine", "        self.grad = 1.0\n        for v",
         "        for v in topo:\n            v.grad = 0.0\n        self.grad = 1.0\n        for v")
NEVER_ZEROES = ("train", "        model.zero_grad()\n", "        pass\n")
TANH_FROM_EXP = (
    "engine", "        t = math.tanh(self.data)\n",
    "        e = (2 * self).exp()\n        return (e - 1) / (e + 1)\n        t = 0.0\n")


def broken(module: str, first_import: str) -> tuple[str, str, str]:
    return (module, first_import, f"{first_import}def broken(:\n")


# name -> (the edits, the tasks the grade fails, the tasks the preview leaves to the grade)
STATES = {
    "graphviz imported at the top of engine.py":
    ((("engine", "import math\n", "import math\n\nfrom graphviz import Digraph\n"), ), (), ()),
    "matplotlib imported in train.py":
    ((("train", "import numpy as np\n", "import matplotlib.pyplot as plt\nimport numpy as np\n"), ),
     (), ()),
    "a library the grade does not offer, imported in train.py":
    ((("train", "import numpy as np\n", "import numpy as np\nimport pytest\n"), ), NN_TASKS, ()),
    "a quick demo at the bottom of train.py": ((("train", "    return history\n",
                                                 f"    return history\n{DEMO}"), ), (), ()),
    "tanh built from exp, as in the lecture": ((TANH_FROM_EXP, ), (), ()),
    "backward() resets every gradient, and the loop never zeroes":
    ((RESET, NEVER_ZEROES), ("zero_grad", ), ("zero_grad", )),
    "a syntax error in engine.py": ((broken("engine", "import math\n"), ), ENGINE_ONLY, NN_TASKS),
    "a syntax error in nn.py": ((broken("nn", "import random\n"), ), ("zero_grad", ), ()),
    "a syntax error in train.py": ((broken("train", "import math\n"), ), NN_TASKS, ()),
}

# The student's preview of each folder named on stdin, in a child forked for it from this
# interpreter
# (which has imported the checks, and nothing of a student's): the child goes into the folder, where
# `import micrograd` (sys.path[0] is '') is the submission's, as in its own pytest. One line back
# per folder: the child's exit status and the states it reported.
PREVIEWS = """
import json, os, sys
from mgkit_checks.preview import Preview

for line in sys.stdin:
    report_r, report_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(report_r)
        os.dup2(2, 1)  # what the student's code prints goes with the errors, not into the answers
        try:
            os.chdir(line.rstrip("\\n"))
            preview = Preview()
            states = {task: preview.verdict(task).state for task in sys.argv[1:]}
            os.write(report_w, json.dumps(states).encode())
        except BaseException:
            import traceback
            traceback.print_exc()
            os._exit(1)
        os._exit(0)
    os.close(report_w)
    with os.fdopen(report_r) as report:
        states = report.read()
    status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    print(json.dumps({"status": status, "states": states}), flush=True)
"""


@pytest.fixture(scope="module")
def sandbox(kit_sandbox):
    return kit_sandbox()  # the session's, for the course in use (tests/conftest.py)


def _graded_once(request, sandbox, tmp_path_factory, name: str, test: str,
                 edit_of) -> dict[str, tuple]:
    """Each submission the run selects of `test`: its folder and its grade, graded once for the
    module."""
    done = {}
    for value in selected_params(request, name, test):
        edit = edit_of(value)
        folder = apply(edit, tmp_path_factory.mktemp("agreement") / "student")
        done[edit.name] = folder, grade(folder, SEED, sandbox=sandbox)
    return done


@pytest.fixture(scope="module")
def states_graded(request, sandbox, tmp_path_factory) -> dict[str, tuple[Path, GradingResults]]:
    return _graded_once(request, sandbox, tmp_path_factory, "name", STATES_TEST,
                        lambda name: Edit(name, STATES[name][0]))


@pytest.fixture(scope="module")
def edits_graded(request, sandbox, tmp_path_factory) -> dict[str, tuple[Path, GradingResults]]:
    return _graded_once(request, sandbox, tmp_path_factory, "edit", EDITS_TEST, lambda edit: edit)


@pytest.fixture(scope="module")
def student_preview(tmp_path_factory) -> Iterator[Callable[[Path], dict[str, str]]]:
    """Each task's state in the student's own preview of a folder: a fresh fork, in the folder, of
    an interpreter started for the module's previews (PREVIEWS), with the notebook extra's
    libraries."""
    errors = tmp_path_factory.mktemp("previews") / "stderr"
    with errors.open("w") as stderr, subprocess.Popen(
        [sys.executable, "-c", PREVIEWS, *JUDGING_ORDER], cwd=errors.parent, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=stderr, text=True, env={
                "PYTHONPATH": str(KIT_ROOT),
                "PATH": "/usr/bin:/bin",
                "MPLBACKEND": "Agg"
            }) as server:
        def preview(folder: Path) -> dict[str, str]:
            server.stdin.write(f"{folder}\n")
            server.stdin.flush()
            answer = json.loads(server.stdout.readline() or "null")
            assert answer and answer["status"] == 0, errors.read_text()[-2000:]
            return json.loads(answer["states"])

        yield preview
        server.stdin.close()


def passed(results: GradingResults) -> dict[str, bool]:
    """Each task's verdict in a grade (asserted here, in its own test: one ungraded edit fails only
    itself)."""
    assert results.graded, results.summary()
    return {task.task_id: task.passed for task in results.tasks}


def test_the_preview_has_the_libraries_student_code_may_import():
    missing = [name for name in world.LIBRARIES if importlib.util.find_spec(name) is None]
    assert not missing, f"install the kit with its test extra: {missing}"


STATES_TEST = "test_the_preview_and_the_grade_agree_on_what_students_reach"
EDITS_TEST = "test_every_mutant_and_variant_agrees_through_the_students_own_import"


@pytest.mark.parametrize("name", STATES)
def test_the_preview_and_the_grade_agree_on_what_students_reach(name, states_graded,
                                                                student_preview):
    _, fails, left_to_grade = STATES[name]
    folder, results = states_graded[name]
    grade_passed = passed(results)
    shown = student_preview(folder)
    assert {task for task, passed in grade_passed.items() if not passed} == set(fails), grade_passed
    assert {task
            for task, state in shown.items() if state == UNDECIDED} == set(left_to_grade), shown
    for task, state in shown.items():
        assert state == UNDECIDED or (state == "passed") == grade_passed[task], (task, state)


@pytest.mark.parametrize("edit", sweep(MUTANTS + VARIANTS))
def test_every_mutant_and_variant_agrees_through_the_students_own_import(
        edit, edits_graded, student_preview):
    folder, results = edits_graded[edit.name]
    grade_passed = passed(results)
    shown = student_preview(folder)
    for task, state in shown.items():
        assert state == UNDECIDED or (state == "passed") == grade_passed[task], (task, state)
    if edit in VARIANTS:  # correct code: the preview decides every task, and passes it
        assert set(shown.values()) == {"passed"}, shown


def test_every_environment_installs_what_student_code_may_import():
    import tomllib

    from autograder.platforms import gradescope

    release = tomllib.loads(
        (KIT_ROOT / "release" / "pyproject.toml").read_text())["project"]["dependencies"]
    kit = tomllib.loads((KIT_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for requirement in world.requirements():
        assert requirement in release and requirement in gradescope.REQUIREMENTS.splitlines(
        ), requirement
        assert requirement.partition(">")[0] in {line.partition(">")[0]
                                                 for line in kit}, requirement
