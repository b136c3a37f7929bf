"""A score only rises as the work improves: fixing any one mistake of a combined mutant never lowers
it, on the grade and on the student's preview alike; `=` in a wrong closure costs grad_accumulation;
every message a mutant can produce reads well and names nothing of the kit's insides; and the
held-out bugs get their mistake named first.

Every submission here is graded once, in one module-wide fixture (one sandbox, one seed), and
previewed once, in a child process as the student's own pytest is (a closure that ends its
process ends only that child: such a preview shows nothing passed); the tests read the results.
"""

from __future__ import annotations

import faulthandler
import multiprocessing
import os
import queue
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from mutants import COMBINED, HELD_OUT, HELD_OUT_2, HELD_OUT_3, MUTANTS, OVERWRITE, Edit, apply
from test_checks import load_as

from autograder.grading.loop import grade
from autograder.grading.results import GradingResults
from autograder.grading.worker import TaskSandbox as Sandbox
from autograder.reference.rubric import BY_ID, TOTAL_POINTS
from mgkit_checks.core import FAILED, PASSED
from mgkit_checks.preview import Preview
from mgkit_checks.tasks import JUDGING_ORDER

# It grades and previews every distinct submission of the file (~110): a minute on 2 cores.
pytestmark = pytest.mark.slow

SEED = 424242
NAMED_FIRST_GOAL = 0.95
SANDBOXES = min(2, os.cpu_count() or 1)  # grades at a time in the module's fixture


@dataclass(frozen=True)
class Graded:
    score: float  # the grade's
    preview_score: float  # the points of the tasks the preview shows passed
    failed: frozenset[str]  # by the grade
    preview_failed: frozenset[str]
    first_diagnosis: dict[str, str]  # task -> the grade's diagnosis, for failed tasks
    preview_diagnosis: dict[str, str]  # task -> the preview's, for the tasks it shows failed
    messages: tuple[str, ...]  # every feedback either side gave


def _graded(edit: Edit, results: GradingResults, shown: dict[str, tuple[str, str, str]]) -> Graded:
    assert results.graded, (edit.name, results.summary())
    return Graded(results.score,
                  sum(BY_ID[task].points for task, state in shown.items() if state[0] == PASSED),
                  frozenset(task.task_id for task in results.tasks if not task.passed),
                  frozenset(task for task, state in shown.items() if state[0] == FAILED), {
                      task.task_id: task.diagnoses[0]
                      for task in results.tasks if not task.passed and task.diagnoses
                  }, {
                      task: state[1]
                      for task, state in shown.items() if state[0] == FAILED and state[1]
                  }, (*(task.feedback for task in results.tasks), *(state[2]
                                                                    for state in shown.values())))


def _grade_on_every_core(folders: list) -> list[GradingResults]:
    """Each folder's grade, SANDBOXES at a time: a thread each drives its own sandbox (the work is
    in the sandbox's processes), so the file's ~110 grades take their CPU time over the cores, not
    one."""
    sandboxes = [Sandbox() for _ in range(SANDBOXES)]
    free: queue.SimpleQueue[Sandbox] = queue.SimpleQueue()
    for sandbox in sandboxes:
        free.put(sandbox)

    def grade_one(folder) -> GradingResults:
        sandbox = free.get()
        try:
            return grade(folder, SEED, sandbox=sandbox)
        finally:
            free.put(sandbox)

    try:
        with ThreadPoolExecutor(SANDBOXES) as pool:
            return list(pool.map(grade_one, folders))
    finally:
        for sandbox in sandboxes:
            sandbox.close()


def _preview_in_a_child(name: str, folder) -> dict[str, tuple[str, str, str]]:
    """Each task's (state, diagnosis id, feedback) in the student's preview; {} when the code ended
    the process."""
    context = multiprocessing.get_context("fork")
    reader, writer = context.Pipe(duplex=False)
    child = context.Process(target=_send_preview, args=(writer, name, folder))
    child.start()
    writer.close()
    try:
        shown = reader.recv()
    except EOFError:  # the student's code killed or ended the process, as it would end their pytest
        shown = {}
    child.join()
    return shown


def _send_preview(writer, name: str, folder) -> None:
    # a closure that segfaults ends this child: no traceback of pytest's own for it
    faulthandler.disable()
    preview = Preview(load_as(name, folder))
    verdicts = {task: preview.verdict(task) for task in JUDGING_ORDER}
    writer.send({
        task: (v.state, v.diagnosis.id if v.diagnosis else "", v.feedback)
        for task, v in verdicts.items()
    })


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict[Edit, Graded]:
    """Each distinct submission of this file, graded and previewed once (the grades over every core,
    then the previews, each in its child, none forked while a grading thread runs)."""
    edits = {
        edit.changes: edit
        for combined in COMBINED
        for edit in (combined.code(), *combined.fixes())
    }
    edits |= {edit.changes: edit for edit in (*MUTANTS, *HELD_OUT, *HELD_OUT_2, *HELD_OUT_3)}
    folders = [
        apply(edit,
              tmp_path_factory.mktemp("submission") / "student") for edit in edits.values()
    ]
    grades = _grade_on_every_core(folders)
    return {edit.changes: _graded(edit, results, _preview_in_a_child(f"monotonic_{number}", folder))
            for number, (edit, folder, results) in enumerate(zip(edits.values(), folders, grades))}


@pytest.mark.parametrize("combined", COMBINED, ids=lambda combined: combined.name)
def test_fixing_any_one_mistake_never_lowers_the_score(combined, graded):
    broken = graded[combined.code().changes]
    assert broken.score < 100, "a combined mutant loses points"
    for number, fix in enumerate(combined.fixes()):
        fixed = graded[fix.changes]
        assert fixed.score >= broken.score, (number, broken.failed, fixed.failed)
        assert fixed.preview_score >= broken.preview_score, (number, broken.preview_failed,
                                                             fixed.preview_failed)


def _stops(combined, closure: str) -> bool:
    return any(m.stops for m in combined.mistakes if m.where == closure)


def _overwrites_a_wrong_closure(combined) -> bool:
    """`=` in a closure with another mistake that still runs to its end."""
    overwritten = {m.where for m in combined.mistakes if (m.old, m.new) == OVERWRITE}
    return any(
        m.where in overwritten and (m.old, m.new) != OVERWRITE and not _stops(combined, m.where)
        for m in combined.mistakes)


@pytest.mark.parametrize("combined", [c for c in COMBINED if _overwrites_a_wrong_closure(c)],
                         ids=lambda combined: combined.name)
def test_overwriting_in_a_wrong_closure_costs_grad_accumulation_on_both_sides(combined, graded):
    broken = graded[combined.code().changes]
    assert "grad_accumulation" in broken.failed
    assert "grad_accumulation" in broken.preview_failed
    assert broken.first_diagnosis["grad_accumulation"] == "grad_accumulation/overwrites"
    assert broken.preview_diagnosis["grad_accumulation"] == "grad_accumulation/overwrites"


STOPPING = [c for c in COMBINED if any(m.stops for m in c.mistakes)]


@pytest.mark.parametrize("combined", STOPPING, ids=lambda combined: combined.name)
def test_a_closure_that_does_not_run_to_its_end_costs_its_op_and_grad_accumulation(
        combined, graded):
    """Whatever else is wrong in it: its accumulation could not be seen, so it is not paid."""
    op = next(m.where for m in combined.mistakes if m.stops)
    broken = graded[combined.code().changes]
    assert broken.failed == {op, "grad_accumulation"}, broken.failed
    assert broken.score == TOTAL_POINTS - BY_ID[op].points - BY_ID["grad_accumulation"].points
    assert broken.first_diagnosis["grad_accumulation"] == "grad_accumulation/unseen"
    if broken.preview_failed:  # the preview lived (a raise, a hang): it says the same
        assert broken.preview_failed == broken.failed
        assert broken.preview_diagnosis["grad_accumulation"] == "grad_accumulation/unseen"


def test_a_closure_not_written_yet_costs_only_its_own_task_on_both_sides(graded):
    """The kit's stub, an op the engine lacks, and a student's own `raise NotImplementedError` where
    it costs the whole op, alike; one raised only where the closure would accumulate is no stub."""
    for name in ("mul not written yet", "no relu (as in the lecture's engine)",
                 "mul: the student's own NotImplementedError, before =",
                 "mul raises NotImplementedError only where it would accumulate"):
        mutant = next(m for m in MUTANTS if m.name == name)
        result = graded[mutant.changes]
        assert result.failed == result.preview_failed == set(mutant.fails), (name, result.failed,
                                                                             result.preview_failed)
        assert result.score == TOTAL_POINTS - sum(BY_ID[task].points for task in mutant.fails)


def test_the_suite_combines_mistakes_both_ways():
    in_one_closure = [c for c in COMBINED if len({m.where for m in c.mistakes}) == 1]
    across_closures = [c for c in COMBINED if len({m.where for m in c.mistakes}) >= 3]
    assert len(in_one_closure) >= 8 and len(across_closures) >= 2
    beside_overwrite = [c for c in STOPPING if any((m.old, m.new) == OVERWRITE for m in c.mistakes)]
    # and beside a wrong derivative
    assert len(beside_overwrite) >= 3 and len(STOPPING) - len(beside_overwrite) >= 3


KIT_NAMES = re.compile(
    r"\b(Pair|_Traced\w*|FreshGradients|Harness|Verdict|Definition|mgkit_checks|autograder)\b")
GRAMMAR = {
    r"\b1 checks\b": "a plural after 1",
    r"\b1 check wait\b": "a plural verb after 1",
    r"\bPassed (all )?1 checks": "a plural after 1",
    r",\s*\.": "an ellipsis cut to ', .'",
    r"\b(\w+) \1\b": "a doubled word",
    r"line (\d+)\)? \([^)]*line \1": "a line number twice",
}


def message_faults(message: str) -> list[str]:
    """What is wrong with a message a student reads: bad grammar, no end, a name of the kit's
    insides."""
    faults = [what for pattern, what in GRAMMAR.items() if re.search(pattern, message)]
    if not message.rstrip().endswith((".", ")")):
        faults.append("a sentence without its end")
    if KIT_NAMES.search(message):
        faults.append("a name of the kit's insides")
    return faults


def test_every_message_a_mutant_gets_reads_well_and_names_nothing_of_the_kit(graded):
    messages = {message for result in graded.values() for message in result.messages}
    assert len(messages) > 50
    for message in messages:
        assert not message_faults(message), (message_faults(message), message)


@pytest.mark.parametrize(("message", "fault"), [
    ("Passed 1 checks.", "a plural after 1"),
    ("Failed 1 of 3 checks: 1 check wait for mul_backward.", "a plural verb after 1"),
    ("your code gave 1, 2, .", "an ellipsis cut to ', .'"),
    ("look at the the closure.", "a doubled word"),
    ("your code raised ValueError (engine.py, line 7) (engine.py, line 7).", "a line number twice"),
    ("your code raised AttributeError: 'Pair' object has no attribute 'layers'.",
     "a name of the kit's insides"),
    ("No module named mgkit_checks.core.", "a name of the kit's insides"),
    ("Failed 2 of 8 checks: look at your closure", "a sentence without its end"),
])
def test_the_message_checker_flags_each_kind_of_bad_message(message, fault):
    assert fault in message_faults(message)
    assert not message_faults(
        "Passed all 8 checks; 1 check waits for mul_backward (engine.py, line 7).")


def test_the_held_out_bugs_get_their_mistake_named_first(graded):
    named = [
        graded[edit.changes].first_diagnosis.get(edit.fails[0]) == edit.diagnoses[0]
        for edit in HELD_OUT
    ]
    wrong = [(edit.name, graded[edit.changes].first_diagnosis.get(edit.fails[0]))
             for edit, ok in zip(HELD_OUT, named) if not ok]
    assert sum(named) / len(named) >= NAMED_FIRST_GOAL, wrong
    for edit in HELD_OUT:  # and each fails exactly its task
        assert graded[edit.changes].failed == set(edit.fails), edit.name


# Measured on HELD_OUT_2 (37 bugs): 21 named first with the catalogue as it was, 25 once the classic
# "out.data for out.grad" was added to the mistakes of any op, 36 once its classic misses were named
# (only mul's `.grad` for `.data`, which adds 0 on fresh Values, is still told "nothing added").
NAMED_FIRST_2 = 36 / 37
# Measured once on HELD_OUT_3 (44 bugs), written after that and never tuned on: 25 named first.
NAMED_FIRST_3 = 25 / 44


def test_the_second_held_out_batch_keeps_its_measured_share_named_first(graded):
    """A batch written from the reference alone, before it was measured: the share whose mistake is
    named first by the grade must not fall below what was measured (it is a floor, not the goal)."""
    named = [
        graded[edit.changes].first_diagnosis.get(edit.fails[0]) == edit.diagnoses[0]
        for edit in HELD_OUT_2
    ]
    assert len(HELD_OUT_2) >= 30
    assert sum(named) / len(named) >= NAMED_FIRST_2, [
        edit.name for edit, ok in zip(HELD_OUT_2, named) if not ok
    ]
    for edit in HELD_OUT_2:
        assert edit.fails[0] in graded[edit.changes].failed, edit.name


def test_the_third_held_out_batch_keeps_its_measured_share_named_first(graded):
    """A batch written after the catalogue grew on HELD_OUT_2, measured once and not tuned on: the
    share whose task fails with one of the diagnoses a teacher would call right, first, is a
    floor."""
    named = [
        graded[edit.changes].first_diagnosis.get(edit.fails[0]) in edit.diagnoses
        for edit in HELD_OUT_3
    ]
    assert len(HELD_OUT_3) >= 40
    assert sum(named) / len(named) >= NAMED_FIRST_3, [
        edit.name for edit, ok in zip(HELD_OUT_3, named) if not ok
    ]
