"""The kit's proof that the checks work, and that the student's preview tells the truth about the
grade.

Each classic bug fails exactly its own tasks and its feedback names the mistake; correct code
written differently gets full marks; the reference full marks, the starter zero; and for every
one of them, the preview (the student's pytest) shows each task as the grade decides it, or
says that the grade decides it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import selected_params
from mutants import DROPPED, MUTANTS, VARIANTS, apply, inner_loop, sweep
from test_checks import load_as

from autograder.grading.loop import grade
from autograder.grading.results import GradingResults
from autograder.reference.rubric import COURSE, TASK_IDS, TOTAL_POINTS
from autograder.reference.solution import KIT_ROOT, MODULES, REFERENCE_PACKAGE_DIR
from autograder.reference.stubs import make_stub
from mgkit_checks.core import UNDECIDED
from mgkit_checks.preview import Preview
from mgkit_checks.tasks import JUDGING_ORDER

SEED = 20261122  # any seed works; a fixed one keeps a failure reproducible
GRADE_SEEDS = (SEED, 7)  # the whole sweep's sandboxed grade on two seeds; the cases on 24 below
# the cases on two dozen seeds, through the preview's harness (in-process, fast)
PREVIEW_SEEDS = range(24)
ENGINE_TASKS = tuple(task for task in JUDGING_ORDER if task not in ("zero_grad", "training_loop"))
EDITS = MUTANTS + VARIANTS
# its edits are graded in `swept`
SWEEP = "test_grade_and_preview_agree_and_fail_exactly_the_edits_tasks"
NEVER_ZEROES = next(m for m in MUTANTS if m.name == "loop never zeroes")


@pytest.fixture(scope="module")
def sandbox(kit_sandbox):
    return kit_sandbox()  # the session's, for the course in use (tests/conftest.py)


@pytest.fixture(scope="module")
def swept(request, sandbox, tmp_path_factory) -> dict[str, tuple[Path, dict[int, GradingResults]]]:
    """Each edit this run selects: its folder and its grade on every seed, graded once for the
    module (the sweep's tests and the single-mutant tests below read them)."""
    done = {}
    selected = selected_params(request, "edit", SWEEP)
    # the inner loop's slice on one seed (test_checks and the preview sweep below show no verdict
    # hangs on the seed); the whole sweep on both
    seeds = GRADE_SEEDS if len(selected) > len(inner_loop(EDITS)) else GRADE_SEEDS[:1]
    for edit in selected | {MUTANTS[0], NEVER_ZEROES}:
        folder = apply(edit, tmp_path_factory.mktemp("swept") / "student")
        done[edit.name] = folder, {seed: grade(folder, seed, sandbox=sandbox) for seed in seeds}
    return done


def test_the_suite_is_big_enough_and_covers_every_task():
    assert len(MUTANTS) >= 30
    # another course drops the mutants of the ops it lacks
    if COURSE.path == KIT_ROOT / "course.toml":
        assert not DROPPED, f"these mutants no longer apply to the reference: {DROPPED}"
    assert {task for mutant in MUTANTS for task in mutant.fails} == set(TASK_IDS)
    assert all(mutant.diagnoses
               for mutant in MUTANTS), "every mutant names the diagnosis it must get"


def test_the_inner_loops_slice_fails_every_task_and_holds_correct_code():
    """`-m "not slow"` grades only the slice: it must still catch a broken grade of any task."""
    kept = [edit for edit in EDITS if edit.name in inner_loop(EDITS)]
    assert {task for edit in kept for task in edit.fails} == set(TASK_IDS)
    assert any(not edit.fails for edit in kept)


@pytest.mark.parametrize("edit", sweep(EDITS))
def test_grade_and_preview_agree_and_fail_exactly_the_edits_tasks(edit, swept):
    folder, grades = swept[edit.name]
    preview = Preview(load_as(f"student_{EDITS.index(edit)}", folder))
    for seed, results in grades.items():
        assert results.graded, results.summary()
        failed = {task.task_id for task in results.tasks if not task.passed}
        assert failed == set(edit.fails), (seed,
                                           [t.feedback for t in results.tasks if not t.passed])
        diagnoses = {diagnosis for task in results.tasks for diagnosis in task.diagnoses}
        assert set(edit.diagnoses) <= diagnoses, (seed, diagnoses)
    for task in results.tasks:
        shown = preview.verdict(task.task_id)
        assert shown.state == UNDECIDED or shown.passed == task.passed, (task.task_id,
                                                                         shown.feedback,
                                                                         task.feedback)
        if shown.state != UNDECIDED and not shown.passed:
            assert shown.diagnosis.id == _diagnosis(results, task.task_id), task.task_id


def _diagnosis(results, task_id):
    task = next(task for task in results.tasks if task.task_id == task_id)
    return task.diagnoses[0] if task.diagnoses else ""


ENGINE_EDITS = tuple(e for e in EDITS if {m for m, _, _ in e.changes} == {"engine"})


# A property of the checks' design (no verdict hangs on the seed), each edit on 24 seeds: the inner
# loop keeps one edit; the grade sweep above is what catches a broken grade of any task.
@pytest.mark.parametrize("edit", sweep(ENGINE_EDITS, keep=frozenset({ENGINE_EDITS[0].name})))
def test_engine_verdicts_do_not_flip_with_the_seed(edit, tmp_path):
    package = load_as(f"engine_sweep_{EDITS.index(edit)}", apply(edit, tmp_path / "student"))
    expected = {task for task in edit.fails if task in ENGINE_TASKS}
    for seed in PREVIEW_SEEDS:
        preview = Preview(package, seed=seed)
        states = {task: preview.verdict(task) for task in ENGINE_TASKS}
        decided = {task for task, verdict in states.items() if verdict.state != UNDECIDED}
        assert {task for task in decided if not states[task].passed} == expected & decided, seed


def test_the_reference_gets_full_marks(sandbox):
    results = grade(REFERENCE_PACKAGE_DIR.parent, SEED, sandbox=sandbox)
    assert results.score == TOTAL_POINTS, results.summary()


def test_the_starter_gets_zero_and_every_task_says_what_to_write(tmp_path, sandbox):
    package = tmp_path / "student" / "micrograd"
    package.mkdir(parents=True)
    for module in MODULES:
        (package / f"{module}.py").write_text(make_stub(REFERENCE_PACKAGE_DIR / f"{module}.py"))
    results = grade(tmp_path / "student", SEED, sandbox=sandbox)
    assert [task.task_id for task in results.tasks] == list(TASK_IDS)
    assert results.score == 0
    for task in results.tasks:
        assert task.feedback.startswith(("Not written yet", "Nothing to judge yet")), task.feedback
        assert not task.feedback.rstrip().endswith(":"), task.feedback


def test_the_same_seed_gives_the_same_grade(swept, sandbox):
    folder, grades = swept[MUTANTS[0].name]
    first, second = grades[SEED], grade(folder, SEED, sandbox=sandbox)
    assert [t.feedback for t in first.tasks] == [t.feedback for t in second.tasks]


def test_student_feedback_holds_no_instructor_line(swept):
    from autograder.grading.results import render_feedback

    results = swept[MUTANTS[0].name][1][SEED]
    text = render_feedback(results, "alice") + results.to_gradescope()["output"]
    assert f"{SEED}" not in text and "--seed" not in text and "review" not in text


def test_the_kits_advice_reaches_the_student_whole(swept):
    """The filter that keeps solution lines out of feedback guards what the student's code said, not
    the advice."""
    results = swept[NEVER_ZEROES.name][1][SEED]
    zero_grad = next(task for task in results.tasks if task.task_id == "zero_grad")
    assert "call model.zero_grad() in every step, before loss.backward()" in zero_grad.feedback
    assert "[hidden]" not in zero_grad.feedback


def test_a_missing_file_is_graded_as_the_starter(tmp_path, sandbox):
    folder = apply(VARIANTS[0], tmp_path / "student")
    (Path(folder) / "micrograd" / "train.py").unlink()
    results = grade(folder, SEED, sandbox=sandbox)
    assert [task.task_id for task in results.tasks if not task.passed] == ["training_loop"]
