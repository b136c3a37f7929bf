"""The checks on their own: verdicts from plain numbers, never from what a worker claims."""

from __future__ import annotations

import importlib
import importlib.util
import sys

import pytest
from mutants import MUTANTS, apply

from autograder.checks import Failure, Observation, hidden, judge, trusted
from autograder.checks.probes import Target, probe
from autograder.checks.public import check
from autograder.checks.verdicts import judge_train
from autograder.reference import load
from autograder.rubric import TASK_IDS

HARD_SEED = 721436  # moons on which a correct loop reaches 65%, short of the 70% target


def reference_training_report(seed: int) -> tuple[dict, dict]:
    """What a worker would report for the reference's train() on the trusted, forgiving engine."""
    value = trusted.ForgivingValue
    target = Target(value, None, load().train, lambda nouts, model_seed: trusted.make_mlp(value, 2, nouts, model_seed))
    case = hidden.cases_for("training_loop", seed)[0]
    return case, probe(case, target)


def test_on_hard_data_a_correct_loop_is_held_to_what_it_can_reach():
    case, report = reference_training_report(HARD_SEED)
    assert not judge_train(case, report)[-1][1], "the data should be hard for this test to mean anything"
    [result] = [r for r in judge(HARD_SEED, {"training_loop": Observation({"cases": [report]})})
                if r.task_id == "training_loop"]
    assert result.passed, result.feedback


def test_a_loop_that_does_not_learn_still_fails_on_hard_data():
    case, report = reference_training_report(HARD_SEED)
    report = {**report, "final": report["before"]}  # as if the parameters never moved
    [result] = [r for r in judge(HARD_SEED, {"training_loop": Observation({"cases": [report]})})
                if r.task_id == "training_loop"]
    assert not result.passed


@pytest.mark.parametrize("claim", [
    {"cases": "all passed"}, {"passed": True, "score": 100}, {"cases": [{"passed": True}] * 20}, {},
])
def test_a_worker_that_claims_success_scores_nothing(claim):
    results = judge(1, {task_id: Observation(claim) for task_id in TASK_IDS})
    assert [r.task_id for r in results] == list(TASK_IDS)
    assert all(r.score == 0 for r in results)


def test_every_task_appears_even_when_nothing_ran():
    results = judge(1, {"mul_backward": Failure("timeout", "5 s")})
    assert [r.task_id for r in results] == list(TASK_IDS)
    assert all(r.score == 0 for r in results)
    assert "infinite loop" in results[1].feedback


def load_as(name: str, folder) -> object:
    """A submission folder's micrograd, imported under a private name with its three modules."""
    package_dir = folder / "micrograd"
    spec = importlib.util.spec_from_file_location(name, package_dir / "__init__.py",
                                                  submodule_search_locations=[str(package_dir)])
    package = sys.modules[name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(package)
    for module in ("engine", "nn", "train"):
        importlib.import_module(f"{name}.{module}")
    return package


def test_public_checks_of_a_given_package_judge_that_package_throughout(tmp_path):
    """The notebook passes its own code in: checks that lean on another task must use it too."""
    never_zeroes = next(m for m in MUTANTS if m.name == "loop never zeroes")
    package = load_as("never_zeroes_micrograd", apply(never_zeroes, tmp_path / "student"))
    message = check("zero_grad", package)
    assert message and "doubled" in message
