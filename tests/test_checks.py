"""The checks on their own: verdicts from plain numbers, never from what a worker claims; the
same rules on both sides; cases and diagnoses that hold on every seed."""

from __future__ import annotations

import importlib
import importlib.util
import math
import random
import sys

import numpy as np
import pytest
from mutants import MUTANTS, VARIANTS, apply, sweep

from autograder.grading.judge import judge_task
from autograder.grading.outcomes import Failure, Observation
from autograder.reference.rubric import OP_TASKS, TASK_IDS
from autograder.reference.solution import load
from mgkit_checks import core, expect
from mgkit_checks.numeric import evaluate, mlp_layers, moons
from mgkit_checks.preview import Preview
from mgkit_checks.tasks import DEFINITIONS, JUDGING_ORDER, cases_for
from mgkit_checks.training import (
    LOSS_FUNCTIONS,
    FreshGradients,
    initial_parameters,
    make_model,
)

SEEDS = range(24)  # two dozen: a verdict that can flip with the seed shows here


def judge_in_order(outcomes: dict) -> dict:
    verdicts: dict = {}
    for task_id in JUDGING_ORDER:
        verdicts[task_id] = judge_task(task_id, 1, outcomes.get(task_id, Failure("not_run")),
                                       verdicts)
    return verdicts


@pytest.mark.parametrize("claim", [
    {"cases": "all passed"}, {"passed": True, "score": 100}, {"cases": [{"passed": True}] * 20}, {},
])
def test_a_worker_that_claims_success_scores_nothing(claim):
    verdicts = judge_in_order({task_id: Observation(claim) for task_id in TASK_IDS})
    assert sorted(verdicts) == sorted(TASK_IDS)
    assert not any(verdict.passed for verdict in verdicts.values())


def test_a_worker_that_reports_nothing_for_a_case_fails_it():
    cases = cases_for("mul_backward", 1)
    verdict = judge_task("mul_backward", 1, Observation({"cases": [None] * len(cases)}), {})
    assert verdict.state == core.FAILED


def test_every_task_gets_a_verdict_even_when_nothing_ran():
    verdicts = judge_in_order({"mul_backward": Failure("timeout", "no answer within 5 s")})
    assert not any(verdict.passed for verdict in verdicts.values())
    assert "did not finish" in verdicts["mul_backward"].feedback
    assert verdicts["mul_backward"].diagnosis.id == "mul_backward/hangs"
    assert "`__mul__`'s `_backward`" in verdicts["mul_backward"].feedback


def test_a_stub_from_nbgrader_says_what_to_write_from_the_rubric():
    """nbgrader's stubs raise NotImplementedError() with no message: the hint comes from the
    task."""
    for task in OP_TASKS:
        verdict = judge_task(task.id, 1, Failure("error", "NotImplementedError: "), {})
        assert verdict.feedback.startswith("Not written yet")
        assert task.hint in verdict.feedback, verdict.feedback


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


def test_the_preview_of_a_given_package_judges_that_package_throughout(tmp_path):
    """The notebook passes its own code in: checks that lean on another task must use it too."""
    never_zeroes = next(m for m in MUTANTS if m.name == "loop never zeroes")
    package = load_as("never_zeroes_micrograd", apply(never_zeroes, tmp_path / "student"))
    verdict = Preview(package).verdict("zero_grad")
    assert verdict.diagnosis.id == "zero_grad/loop_never_zeroes", verdict.feedback
    assert "model.zero_grad()" in verdict.feedback  # the kit's advice, whole


# and the seed whose training step once straddled a ReLU's kink (the property is below)
@pytest.mark.parametrize("seed", [*SEEDS, 345102])
def test_the_reference_passes_every_task_on_every_seed(seed):
    preview = Preview(load(), seed=seed)
    assert [t for t in JUDGING_ORDER if not preview.verdict(t).passed] == []


NN_AND_TRAIN_EDITS = tuple(e for e in MUTANTS + VARIANTS
                           if {m
                               for m, _, _ in e.changes} <= {"nn", "train"})


# A property of the checks' design on 24 seeds: the inner loop keeps one edit (test_mutations' grade
# sweep is what catches a broken grade of any task)
@pytest.mark.parametrize("edit",
                         sweep(NN_AND_TRAIN_EDITS, keep=frozenset({NN_AND_TRAIN_EDITS[0].name})))
def test_nn_and_train_verdicts_do_not_flip_with_the_seed(edit, tmp_path):
    """The training checks are exact (one step of descent, worked out by the parent), not
    statistics."""
    package = load_as(f"sweep_{abs(hash(edit.name))}", apply(edit, tmp_path / "student"))
    for seed in SEEDS:
        preview = Preview(package, seed=seed)
        failed = [
            task for task in ("zero_grad", "training_loop") if not preview.verdict(task).passed
        ]
        assert failed == [task for task in ("zero_grad", "training_loop")
                          if task in edit.fails], seed


def test_the_expected_numbers_are_those_of_the_calculus():
    case = {"op": "tanh", "inputs": [0.7], "out_grad": 1.5, "power": None}
    assert math.isclose(
        expect.gradients("a.tanh()", {"a": 0.7})["a"], 1 - math.tanh(0.7)**2, rel_tol=1e-8)
    from mgkit_checks.ops import expected_op_grads

    assert math.isclose(expected_op_grads(case)[0], 1.5 * (1 - math.tanh(0.7) ** 2), rel_tol=1e-8)


def _micrograd_gradient(case: dict, params: list, loss: str, alpha: float) -> list[float]:
    """The reference engine's own gradient of one training step's loss at these parameters."""
    model = make_model(load().engine.Value, FreshGradients, case["nouts"], case["model_seed"])
    for p, value in zip(model.parameters(), params):
        p.data = value
    xs, ys = moons(case["points"], case["data_seed"])
    total = LOSS_FUNCTIONS[loss]([model(x) for x in xs], ys)
    (total + alpha * sum(p * p for p in model.parameters())).backward()
    return [p.grad for p in model.parameters()]


def _on_a_kink(case: dict, params: list, rng: random.Random, kink: str) -> list:
    """The parameters moved so that one ReLU's pre-activation, or one hinge's margin, is 0 to the
    last bit or two (where a finite difference is neither side's slope)."""
    xs, ys = moons(case["points"], case["data_seed"])
    sizes = [2, *case["nouts"]]
    layers, scores = mlp_layers(params, sizes, np.array(xs))
    params, point = list(params), rng.randrange(len(xs))
    if kink == "relu":
        neuron = rng.randrange(sizes[1])
        params[neuron * (sizes[0] + 1) + sizes[0]] -= layers[0][2][point, neuron]  # its bias
    elif kink == "hinge":
        params[-1] += ys[point] - scores[point]  # y * score = 1, as y is 1 or -1
    return params


@pytest.mark.parametrize("kink", ["none", "relu", "hinge"])
def test_the_expected_training_step_is_the_engines_own_on_and_off_a_kink(kink):
    """A property over 60 cases and points: the judge's gradient of a training step is the one
    micrograd takes, also where a ReLU or a hinge sits at its kink (seed 345102 once failed the
    reference: a central difference straddled a ReLU's kink)."""
    for number in range(60):
        rng = random.Random(number)
        case = cases_for("training_loop", rng.randrange(10**6))[1]
        step = rng.choice(case["steps"])
        loss = "max_margin" if kink == "hinge" else step["loss"]
        params = [p + rng.gauss(0, 0.3) for p in initial_parameters(case)]
        params = _on_a_kink(case, params, rng, kink)
        want = _micrograd_gradient(case, params, loss, step["alpha"])
        got = expect.training_gradient(case, params, loss, step["alpha"])
        assert np.allclose(got, want, rtol=1e-9, atol=1e-12), (number, kink)


def test_a_wrong_step_names_the_first_parameter_that_parts_and_what_it_should_be():
    """Parameters 1 to 14 agree: the message points at the 15th (layer 1, neuron 5's bias), not at
    the first three, which are right."""
    from mgkit_checks.training import _where_apart

    want = [0.1 * i for i in range(21)]  # MLP(2, [5, 1]): 5 neurons of 3, then one of 6
    for index, named in ((0, "layer 1, neuron 1's weight 1"), (14, "layer 1, neuron 5's bias"),
                         (15, "layer 2, neuron 1's weight 1"), (20, "layer 2, neuron 1's bias")):
        got = want[:index] + [want[index] + 1.0] + want[index + 1:]
        left, gives = _where_apart(got, want, [5, 1])
        assert left.startswith(f"parameter {index + 1} of 21 ({named}) at "), left
        assert float(gives) == pytest.approx(want[index])


def test_a_node_that_feeds_two_ops_is_built_once():
    made: list = []
    Value = expect.forward_engine().Value
    evaluate("c = a * b; c + c.tanh()", {"a": Value(0.5), "b": Value(2.0)}, made)
    assert len(made) == 3  # a * b, c.tanh(), the sum: c is reused, not rebuilt


def test_every_task_is_defined_once_and_judged_after_what_it_leans_on():
    assert sorted(DEFINITIONS) == sorted(TASK_IDS)
    for task_id in JUDGING_ORDER:
        for seed in (0, 1):
            for case in cases_for(task_id, seed):
                for needed in case.get("needs", ()):
                    assert JUDGING_ORDER.index(needed) < JUDGING_ORDER.index(task_id)
