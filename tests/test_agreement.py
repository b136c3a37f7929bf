"""The preview, as the student's own kit runs it, against the grade, in the states students reach.

The preview runs in a fresh interpreter from the submission's folder, importing `micrograd` as
the student's pytest does (with the notebook extra's libraries installed here); the grade in the
sandbox. A task the preview decides must be decided the same way by the grade; the states
below must also be decided (or, where the preview cannot see, left to the grade), never shown
passed when the grade fails them.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
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

PREVIEW = """
import json, sys
from mgkit_checks.preview import Preview
preview = Preview()
print(json.dumps({task: preview.verdict(task).state for task in sys.argv[1:]}))
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


def student_preview(folder: Path) -> dict[str, str]:
    """Each task's state in the student's own preview: a fresh Python in the submission's folder."""
    done = subprocess.run([sys.executable, "-c", PREVIEW, *JUDGING_ORDER], cwd=folder,
                          capture_output=True, text=True, env={
                              "PYTHONPATH": str(KIT_ROOT),
                              "PATH": "/usr/bin:/bin",
                              "MPLBACKEND": "Agg"
                          }, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


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
def test_the_preview_and_the_grade_agree_on_what_students_reach(name, states_graded):
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
def test_every_mutant_and_variant_agrees_through_the_students_own_import(edit, edits_graded):
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
