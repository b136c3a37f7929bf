"""A score only rises as the work improves: fixing any one mistake of a combined mutant never lowers
it, on the grade and on the student's preview alike; `=` in a wrong closure costs grad_accumulation;
every message a mutant can produce reads well and names nothing of the kit's insides; and the
held-out bugs get their mistake named first.

Every submission here is graded once, in one module-wide fixture (one sandbox, one seed), and
previewed once; the tests read the results.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from mutants import COMBINED, HELD_OUT, MUTANTS, OVERWRITE, Edit, apply
from test_checks import load_as

from autograder.grading.loop import grade
from autograder.grading.worker import TaskSandbox as Sandbox
from autograder.reference.rubric import BY_ID
from mgkit_checks.core import FAILED, PASSED
from mgkit_checks.preview import Preview
from mgkit_checks.tasks import JUDGING_ORDER

SEED = 424242
NAMED_FIRST_GOAL = 0.95


@dataclass(frozen=True)
class Graded:
    score: float  # the grade's
    preview_score: float  # the points of the tasks the preview shows passed
    failed: frozenset[str]  # by the grade
    preview_failed: frozenset[str]
    first_diagnosis: dict[str, str]  # task -> the grade's diagnosis, for failed tasks
    messages: tuple[str, ...]  # every feedback either side gave


def _grade_and_preview(edit: Edit, folder, sandbox, name: str) -> Graded:
    apply(edit, folder)
    results = grade(folder, SEED, sandbox=sandbox)
    assert results.graded, results.summary()
    preview = Preview(load_as(name, folder))
    verdicts = {task: preview.verdict(task) for task in JUDGING_ORDER}
    return Graded(results.score, sum(BY_ID[task].points for task, v in verdicts.items() if v.state == PASSED),
                  frozenset(task.task_id for task in results.tasks if not task.passed),
                  frozenset(task for task, v in verdicts.items() if v.state == FAILED),
                  {task.task_id: task.diagnoses[0] for task in results.tasks if not task.passed and task.diagnoses},
                  (*(task.feedback for task in results.tasks), *(v.feedback for v in verdicts.values())))


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict[Edit, Graded]:
    """Each distinct submission of this file, graded and previewed once."""
    edits = {edit.changes: edit for combined in COMBINED for edit in (combined.code(), *combined.fixes())}
    edits |= {edit.changes: edit for edit in (*MUTANTS, *HELD_OUT)}
    done = {}
    with Sandbox() as sandbox:
        for number, edit in enumerate(edits.values()):
            folder = tmp_path_factory.mktemp("submission") / "student"
            done[edit.changes] = _grade_and_preview(edit, folder, sandbox, f"monotonic_{number}")
    return done


@pytest.mark.parametrize("combined", COMBINED, ids=lambda combined: combined.name)
def test_fixing_any_one_mistake_never_lowers_the_score(combined, graded):
    broken = graded[combined.code().changes]
    assert broken.score < 100, "a combined mutant loses points"
    for number, fix in enumerate(combined.fixes()):
        fixed = graded[fix.changes]
        assert fixed.score >= broken.score, (number, broken.failed, fixed.failed)
        assert fixed.preview_score >= broken.preview_score, (number, broken.preview_failed, fixed.preview_failed)


def _overwrites_a_wrong_closure(combined) -> bool:
    overwritten = {m.where for m in combined.mistakes if (m.old, m.new) == OVERWRITE}
    return any(m.where in overwritten and (m.old, m.new) != OVERWRITE for m in combined.mistakes)


@pytest.mark.parametrize("combined", [c for c in COMBINED if _overwrites_a_wrong_closure(c)],
                         ids=lambda combined: combined.name)
def test_overwriting_in_a_wrong_closure_costs_grad_accumulation_on_both_sides(combined, graded):
    broken = graded[combined.code().changes]
    assert "grad_accumulation" in broken.failed
    assert "grad_accumulation" in broken.preview_failed
    assert broken.first_diagnosis["grad_accumulation"] == "grad_accumulation/overwrites"


def test_the_suite_combines_mistakes_both_ways():
    in_one_closure = [c for c in COMBINED if len({m.where for m in c.mistakes}) == 1]
    across_closures = [c for c in COMBINED if len({m.where for m in c.mistakes}) >= 3]
    assert len(in_one_closure) >= 8 and len(across_closures) >= 2


KIT_NAMES = re.compile(r"\b(Pair|_Traced\w*|FreshGradients|Harness|Verdict|Definition|mgkit_checks|autograder)\b")
GRAMMAR = {
    r"\b1 checks\b": "a plural after 1",
    r"\b1 check wait\b": "a plural verb after 1",
    r"\bPassed (all )?1 checks": "a plural after 1",
    r",\s*\.": "an ellipsis cut to ', .'",
    r"\b(\w+) \1\b": "a doubled word",
    r"line (\d+)\)? \([^)]*line \1": "a line number twice",
}


def test_every_message_a_mutant_gets_reads_well_and_names_nothing_of_the_kit(graded):
    messages = {message for result in graded.values() for message in result.messages}
    assert len(messages) > 50
    for message in messages:
        for pattern, what in GRAMMAR.items():
            assert not re.search(pattern, message), (what, message)
        assert message.rstrip().endswith((".", ")")), ("a sentence without its end", message)
        assert not KIT_NAMES.search(message), ("a name of the kit's insides", message)


def test_the_held_out_bugs_get_their_mistake_named_first(graded):
    named = [graded[edit.changes].first_diagnosis.get(edit.fails[0]) == edit.diagnoses[0] for edit in HELD_OUT]
    wrong = [(edit.name, graded[edit.changes].first_diagnosis.get(edit.fails[0])) for edit, ok in zip(HELD_OUT, named)
             if not ok]
    assert sum(named) / len(named) >= NAMED_FIRST_GOAL, wrong
    for edit in HELD_OUT:  # and each fails exactly its task
        assert graded[edit.changes].failed == set(edit.fails), edit.name
