"""The kit's proof that the hidden checks work: each classic bug fails exactly its own task,
correct code written differently gets full marks, the reference full marks, the starter zero."""

from __future__ import annotations

from pathlib import Path

import pytest
from mutants import MUTANTS, VARIANTS, apply

from autograder.grading import grade
from autograder.reference import MODULES, REFERENCE_PACKAGE_DIR
from autograder.rubric import TASK_IDS, TOTAL_POINTS
from autograder.sandbox import Sandbox
from autograder.stubs import make_stub

SEED = 20261122  # any seed works; a fixed one keeps a failure reproducible


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox() as sandbox:  # one zygote for the whole suite
        yield sandbox


def failed_tasks(folder: Path, sandbox: Sandbox) -> list[str]:
    results = grade(folder, SEED, sandbox=sandbox)
    assert results.graded, results.summary()
    return [task.task_id for task in results.tasks if not task.passed]


def test_the_suite_is_big_enough_and_covers_every_task():
    assert len(MUTANTS) >= 20
    assert {mutant.task_id for mutant in MUTANTS} == set(TASK_IDS)


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda edit: edit.name)
def test_a_classic_bug_fails_exactly_its_own_task(mutant, tmp_path, sandbox):
    assert failed_tasks(apply(mutant, tmp_path / "student"), sandbox) == [mutant.task_id]


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda edit: edit.name)
def test_a_correct_variant_gets_full_marks(variant, tmp_path, sandbox):
    assert failed_tasks(apply(variant, tmp_path / "student"), sandbox) == []


def test_the_reference_gets_full_marks(tmp_path, sandbox):
    results = grade(REFERENCE_PACKAGE_DIR.parent, SEED, sandbox=sandbox)
    assert results.score == TOTAL_POINTS, results.summary()


def test_the_starter_gets_zero_with_every_task_present(tmp_path, sandbox):
    package = tmp_path / "student" / "micrograd"
    package.mkdir(parents=True)
    for module in MODULES:
        (package / f"{module}.py").write_text(make_stub(REFERENCE_PACKAGE_DIR / f"{module}.py"))
    results = grade(tmp_path / "student", SEED, sandbox=sandbox)
    assert [task.task_id for task in results.tasks] == list(TASK_IDS)
    assert results.score == 0
    assert all("Not written yet" in task.feedback for task in results.tasks), [t.feedback for t in results.tasks]


def test_the_same_seed_gives_the_same_grade(tmp_path, sandbox):
    folder = apply(MUTANTS[0], tmp_path / "student")
    first, second = grade(folder, SEED, sandbox=sandbox), grade(folder, SEED, sandbox=sandbox)
    assert [t.feedback for t in first.tasks] == [t.feedback for t in second.tasks]
