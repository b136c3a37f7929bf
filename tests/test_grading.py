"""grade(path): submissions read safely, results in the contract's format, the grader failing
closed."""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from pathlib import Path

import nbformat
import pytest
from fake_entry import CORRECT_ENGINE, JUDGED, ROOMY, SHORT, engine_answering, write_submission
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

import autograder.grading.judge
from autograder.grading.judge import imports_of
from autograder.grading.loop import grade
from autograder.grading.outcomes import TaskResult
from autograder.grading.results import (
    GradingResults,
    is_results_file,
    render_feedback,
    render_table,
)
from autograder.grading.submission import (
    MAX_MODULE_BYTES,
    Submission,
    SubmissionError,
    load,
    private_copy,
    starter,
)
from autograder.grading.worker import TaskSandbox
from autograder.reference import outputs as outputs_module
from autograder.reference.outputs import check_replaceable
from autograder.reference.rubric import BY_ID, TASK_IDS, TASKS, TOTAL_POINTS
from autograder.reference.solution import MODULES, REFERENCE_PACKAGE_DIR

LIMITS = ROOMY  # the import hang below has a sandbox of its own, with SHORT


@pytest.fixture(scope="module")
def sandbox():
    with TaskSandbox(LIMITS, JUDGED) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def short_sandbox():
    """For a hang: it costs the deadline."""
    with TaskSandbox(SHORT, JUDGED) as sandbox:
        yield sandbox


def scores(results: GradingResults) -> dict[str, float]:
    return {task.task_id: task.score for task in results.tasks}


# ---- grading -------------------------------------------------------------------------------

def test_a_correct_submission_gets_full_marks_and_records_its_seed(sandbox, tmp_path):
    results = grade(write_submission(tmp_path / "alice"), seed=42, sandbox=sandbox)
    assert results.graded and results.score == TOTAL_POINTS and results.seed == 42
    assert [task.task_id for task in results.tasks] == list(TASK_IDS)


def test_a_bug_in_one_task_costs_only_that_task(sandbox, tmp_path):
    engine = engine_answering("if task_id == 'topo_sort':\n    raise RuntimeError('oops')")
    results = grade(write_submission(tmp_path / "bob", engine), seed=1, sandbox=sandbox)
    assert results.score == TOTAL_POINTS - BY_ID["topo_sort"].points
    topo_sort = next(task for task in results.tasks if task.task_id == "topo_sort")
    assert topo_sort.score == 0 and "RuntimeError: oops" in topo_sort.feedback


@pytest.mark.parametrize(
    "top_level",
    ["import time\nwhile True:\n    time.sleep(1)", "import os\nos._exit(0)"],
    # asleep: test_sandbox's hangs are the ones that spin
    ids=["hangs", "exits"])
def test_an_import_that_hangs_or_exits_costs_one_deadline_not_one_per_task(
        short_sandbox, tmp_path, top_level, monkeypatch):
    sandbox = short_sandbox
    # one worker per group of tasks that import the same files (the fake's tasks all import
    # engine.py)
    ran = []
    run = sandbox.run
    monkeypatch.setattr(
        sandbox, "run",
        lambda folder, task_id, *args: ran.append(task_id) or run(folder, task_id, *args))
    results = grade(write_submission(tmp_path / "ian", CORRECT_ENGINE + top_level), seed=1,
                    sandbox=sandbox)
    assert len(ran) == len({imports_of(task.id) for task in TASKS}) < len(TASKS)
    assert results.graded and results.score == 0
    assert all(f"while importing {imports_of(task.task_id)}" in task.feedback
               for task in results.tasks)


def test_the_same_seed_reproduces_a_grade(sandbox, tmp_path):
    engine = engine_answering("import random\nif random.random() < 0.5:\n    raise ValueError")
    folder = write_submission(tmp_path / "carol", engine)
    first, second = (grade(folder, seed=9, sandbox=sandbox).to_gradescope() for _ in range(2))
    first.pop("execution_time"), second.pop("execution_time")
    assert first == second


def test_a_fresh_seed_when_none_is_given(sandbox, tmp_path):
    folder = write_submission(tmp_path / "dan")
    assert len({grade(folder, sandbox=sandbox).seed for _ in range(3)}) > 1


@pytest.mark.parametrize("layout", ["empty", "starter only", "loose files"])
def test_every_task_appears_whatever_the_folder_holds(sandbox, tmp_path, layout):
    folder = tmp_path / "erin"
    folder.mkdir()
    if layout == "loose files":  # uploaded without the micrograd/ folder
        (folder / "engine.py").write_text(CORRECT_ENGINE)
    results = grade(folder, seed=3, sandbox=sandbox)
    assert results.graded and len(results.tasks) == len(TASKS)
    assert results.score == (TOTAL_POINTS if layout == "loose files" else 0)
    assert any("engine.py" in note for note in results.notes)


def _hand_in(where: Path, shape: str, engine: str) -> Path:
    """A hand-in of that shape, under a name of its own in `where` (/tmp is shared)."""
    if shape == "notebook":
        path = Path(tempfile.mkstemp(suffix=".ipynb", dir=where)[1])
        path.write_text(nbformat.writes(new_notebook(cells=[
            new_code_cell(engine, metadata={"mgkit": {"module": "engine"}})])))
        return path
    return write_submission(Path(tempfile.mkdtemp(dir=where)), engine)


@pytest.fixture(scope="module")
def machine_layers(sandbox, tmp_path_factory) -> tuple[str, ...]:
    """The isolation layers this machine gives a worker, as a grade of a hand-in that lies in a
    folder of its own records them."""
    folder = write_submission(tmp_path_factory.mktemp("alone") / "alone")
    return grade(folder, seed=1, sandbox=sandbox).isolation


# where a hand-in may lie: the temporary folders, the home folder (which may hold the Python the
# worker imports from), a named folder, the current one, a link to it from the class's folder
PLACES = ["/tmp", "/var/tmp", "/dev/shm", "home", "a named folder", ".", "a link"]


# a linked notebook is never followed (test_symlinks_are_never_followed)
@pytest.mark.parametrize("place, shape", [(place, shape) for place in PLACES
                                          for shape in ("folder", "notebook")
                                          if (place, shape) != ("a link", "notebook")])
def test_a_hand_in_is_graded_wherever_it_lies_and_its_neighbours_stay_hidden(
        machine_layers, tmp_path, monkeypatch, place, shape):
    """Its own grade hides the hand-in's neighbours from the worker, where it is listed and where a
    link to it leads. A hand-in lying in /tmp itself once had the worker's own copy hidden with
    them (a grader error for everyone); one in the home folder that holds the Python, or behind a
    link, once let the worker read its neighbours."""
    if place == "a link":  # outside /tmp, which the worker's fresh /tmp hides anyway
        tmp_path = Path(tempfile.mkdtemp(dir="/var/tmp"))
    where = {"home": Path.home(), "a named folder": tmp_path / "ünï côde" / "x y",
             ".": tmp_path / "here", "a link": tmp_path / "class"}.get(place, Path(place))
    if place in ("/tmp", "/var/tmp", "/dev/shm", "home") and not os.access(where, os.W_OK):
        pytest.skip(f"{where} is not writable here")
    where.mkdir(parents=True, exist_ok=True)
    # a classmate's answers, and the hand-in, under names of their own (the shared folders)
    made = [Path(tempfile.mkstemp(suffix=".py", dir=where)[1])]
    engine = engine_answering(f"""
        import os
        if task_id == 'zero_grad' and os.path.exists({str(made[0])!r}):
            return -1""")  # its own work if it cannot see the classmate's file
    try:
        if place == "a link":  # class/<name> -> ../real/<name>
            (tmp_path / "real").mkdir()
            real = _hand_in(tmp_path / "real", shape, engine)
            made.append(where / real.name)
            made[-1].symlink_to(Path("..") / "real" / real.name)
        else:
            made.append(_hand_in(where, shape, engine))
        path = made[-1]
        if place == ".":
            monkeypatch.chdir(where)
            path = Path(path.name)
        results = grade(path, seed=5, entry=JUDGED, limits=LIMITS)
    finally:
        for made_path in made:
            shutil.rmtree(made_path) if made_path.is_dir() and not made_path.is_symlink() \
                else made_path.unlink()
        if place == "a link":
            shutil.rmtree(tmp_path)
    assert results.graded, results.tasks[0].feedback
    # every layer the machine gives, wherever the hand-in lies (a layer that fails to start is
    # dropped without a word); "own-user" too where hiding the home folder makes the Python
    # readable to others
    assert set(machine_layers) <= set(results.isolation), results.isolation
    sees_neighbours = "mount-namespace" not in results.isolation
    assert results.score == TOTAL_POINTS - BY_ID["zero_grad"].points * sees_neighbours


def test_no_such_path_is_a_submission_error(tmp_path):
    with pytest.raises(SubmissionError, match="does not exist"):
        grade(tmp_path / "nobody")
    (tmp_path / "essay.txt").write_text("hello")
    with pytest.raises(SubmissionError, match="neither a folder nor"):
        grade(tmp_path / "essay.txt")


def test_a_failing_grader_writes_a_zero_not_graded_result(tmp_path, monkeypatch):
    def broken_judge(task_id, seed, outcome, earlier):
        raise KeyError("the checks have a bug")

    monkeypatch.setattr(autograder.grading.judge, "judge_task", broken_judge)
    results = grade(write_submission(tmp_path / "fay"), seed=5, entry=JUDGED, limits=LIMITS)
    assert not results.graded and results.score == 0 and len(results.tasks) == len(TASKS)
    assert all("not graded" in task.feedback and "tell your course staff" in task.feedback
               for task in results.tasks)
    assert all(test["status"] == "failed" for test in results.to_gradescope()["tests"])


def test_verdicts_outside_the_rubric_are_a_grader_failure(tmp_path, monkeypatch):
    def generous_result(verdict, points):
        return TaskResult(verdict.task_id, 1000.0, points, "")

    monkeypatch.setattr(autograder.grading.judge, "task_result", generous_result)
    results = grade(write_submission(tmp_path / "gil"), seed=5, entry=JUDGED, limits=LIMITS)
    assert not results.graded and results.score == 0


def test_feedback_never_shows_the_reference_or_the_hidden_checks(sandbox, tmp_path):
    # a line of the reference's solutions
    leaks = {
        "add_backward":
        "self.grad += (1 - t**2) * out.grad",
        "mul_backward":
        "def judge_task(task_id: str, seed: int, outcome: Outcome, earlier: dict[str, Verdict])"
        " -> Verdict:"
    }  # a line of the hidden checks
    engine = engine_answering(f"raise ValueError({leaks}.get(task_id, 'nothing secret here'))")
    results = grade(write_submission(tmp_path / "rae", engine), seed=1, sandbox=sandbox)
    feedback = {task.task_id: task.feedback for task in results.tasks}
    assert all(leak not in feedback[task_id] and "[hidden]" in feedback[task_id]
               for task_id, leak in leaks.items())
    assert "nothing secret here" in feedback["pow_backward"]


def test_suspicious_constructs_are_flagged_for_the_instructor_not_penalised(sandbox, tmp_path):
    suspicious = "import ctypes, sys\nframe = sys._getframe\nbias = 6.881373587019543\n"
    engine = CORRECT_ENGINE + suspicious
    results = grade(write_submission(tmp_path / "sam", engine), seed=1, sandbox=sandbox)
    assert results.score == TOTAL_POINTS
    assert results.flags == ("engine.py:3: uses ctypes", "engine.py:4: reads the caller's frames",
                             "engine.py:5: holds the lecture's numbers")
    assert results.to_gradescope()["extra_data"]["flags"] == list(results.flags)
    assert "review" in render_table(results) and not grade(write_submission(tmp_path / "tom"),
                                                           sandbox=sandbox).flags


# ---- the submission, read safely -----------------------------------------------------------

def notebook_of(engine: str, extra_cells: tuple = ()) -> nbformat.NotebookNode:
    """A notebook of the notebook track: module cells tagged metadata.mgkit.module."""
    engine_cell = new_code_cell(engine, metadata={"mgkit": {"module": "engine"}})
    cells = [new_markdown_cell("# micrograd"), *extra_cells, engine_cell]
    for module, source in (("nn", "class Module:\n    pass"), ("train", "def train():\n    pass")):
        tag = {"module": module, "package_imports": ["from .engine import answer"]}
        cells.append(new_code_cell(source, metadata={"mgkit": tag}))
    cells.append(new_code_cell("answer('x', 1)"))  # an exploring cell: not part of any module
    return new_notebook(cells=cells)


def test_a_notebook_gets_the_same_grade_as_the_same_modules(sandbox, tmp_path):
    path = tmp_path / "hana.ipynb"
    nbformat.write(notebook_of(CORRECT_ENGINE, (new_code_cell("%matplotlib inline"),)), path)
    as_notebook = grade(path, seed=4, sandbox=sandbox)
    as_modules = grade(write_submission(tmp_path / "hana"), seed=4, sandbox=sandbox)
    assert as_notebook.score == as_modules.score == TOTAL_POINTS


def test_a_notebook_is_cut_into_its_modules(tmp_path):
    path = tmp_path / "ivan.ipynb"
    engine = "import math\n%timeit 1\ndef answer(task_id, seed):\n    return 1"
    nbformat.write(notebook_of(engine), path)
    submission = load(path)
    assert submission.name == "ivan"
    assert submission.sources[
        "engine"] == b"import math\n# %timeit 1\ndef answer(task_id, seed):\n    return 1\n"
    assert submission.sources["nn"] == b"class Module:\n    pass\nfrom .engine import answer\n"
    assert b"answer('x', 1)" not in b"".join(submission.sources.values())  # an exploring cell


def test_a_notebook_is_cut_as_the_release_builder_cuts_it(tmp_path):
    from autograder.reference.solution import KIT_ROOT, REFERENCE_PACKAGE_DIR
    from autograder.release.notebooks import build_notebook, module_sources

    notebook = build_notebook(KIT_ROOT / "assignments" / "micrograd_lab.md", REFERENCE_PACKAGE_DIR)
    nbformat.write(notebook, tmp_path / "lab.ipynb")
    expected = {module: text.encode() for module, text in module_sources(notebook).items()}
    assert load(tmp_path / "lab.ipynb").sources == expected


@pytest.mark.parametrize("tag", [
    "engine", {
        "module": "numpy"
    }, {
        "module": "nn",
        "package_imports": "import os"
    }, {
        "module": ["nn"]
    }
])
def test_a_tampered_tag_leaves_the_cell_out(tmp_path, tag):
    notebook = notebook_of(CORRECT_ENGINE)
    notebook.cells.insert(1, new_code_cell("raise SystemExit", metadata={"mgkit": tag}))
    nbformat.write(notebook, tmp_path / "quinn.ipynb")
    assert b"SystemExit" not in b"".join(load(tmp_path / "quinn.ipynb").sources.values())


@pytest.mark.parametrize("text",
                         ["{not json", '{"cells": 3}', "[]", '{"cells": [{"cell_type": "code"}]}'])
def test_an_unreadable_notebook_is_graded_as_empty(sandbox, tmp_path, text):
    path = tmp_path / "jo.ipynb"
    path.write_text(text)
    results = grade(path, seed=1, sandbox=sandbox)
    assert results.graded and results.score == 0 and len(results.tasks) == len(TASKS)


def test_only_the_three_modules_are_copied_into_a_private_folder(tmp_path):
    folder = write_submission(tmp_path / "kim")
    for stray in ("conftest.py", "sitecustomize.py", "evil.pth", "micrograd/numpy.py",
                  "micrograd/random.py", "micrograd/test_engine.py", "pytest.ini",
                  "micrograd/__pycache__/engine.cpython-311.pyc"):
        (folder / stray).parent.mkdir(exist_ok=True)
        (folder / stray).write_text("raise SystemExit('I ran')")
    (folder / "micrograd" /
     "__init__.py").write_text("raise SystemExit('the kit keeps its own __init__')")
    with private_copy(load(folder)) as private:
        assert stat.S_IMODE(private.stat().st_mode) == 0o700
        assert sorted(path.relative_to(private).as_posix() for path in private.rglob("*")) == [
            "micrograd", "micrograd/__init__.py", "micrograd/engine.py", "micrograd/nn.py",
            "micrograd/train.py"
        ]
        assert (private / "micrograd" / "__init__.py").read_text() == starter("__init__")
        assert (private / "micrograd" / "engine.py").read_text() == CORRECT_ENGINE
    assert not private.exists()


def test_a_missing_module_is_the_starter(tmp_path):
    folder = write_submission(tmp_path / "lee")
    (folder / "micrograd" / "nn.py").unlink()
    submission = load(folder)
    with private_copy(submission) as private:
        assert (private / "micrograd" / "nn.py").read_text() == starter("nn")
    assert submission.notes == ("micrograd/nn.py is missing: graded as the untouched starter",)


def test_symlinks_are_never_followed(tmp_path):
    outside = tmp_path / "elsewhere"
    write_submission(outside)
    folder = tmp_path / "max"
    (folder / "micrograd").mkdir(parents=True)
    (folder / "micrograd" / "engine.py").symlink_to(outside / "micrograd" / "engine.py")
    os.symlink(outside / "micrograd", folder / "micrograd2")
    submission = load(folder)
    assert submission.sources["engine"] is None
    assert any("symlink" in note for note in submission.notes)
    linked_package = tmp_path / "ned"
    linked_package.mkdir()
    (linked_package / "micrograd").symlink_to(outside / "micrograd", target_is_directory=True)
    assert load(linked_package).sources == {"engine": None, "nn": None, "train": None}


def test_a_file_too_large_to_be_a_module_is_missing(tmp_path):
    folder = write_submission(tmp_path / "ola", "x = 1\n" * (MAX_MODULE_BYTES // 6 + 1))
    submission = load(folder)
    assert submission.sources["engine"] is None and "larger than" in submission.notes[0]


def test_a_fifo_does_not_block_the_grader(tmp_path):
    folder = write_submission(tmp_path / "pat")
    (folder / "micrograd" / "train.py").unlink()
    os.mkfifo(folder / "micrograd" / "train.py")
    assert load(folder).sources["train"] is None


# ---- results.json --------------------------------------------------------------------------

def sample_results(graded: bool = True) -> GradingResults:
    if not graded:
        return GradingResults.not_graded("the zygote did not start", seed=11)
    tasks = tuple(TaskResult(task.id, float(task.points) if index % 2 else 0.0, float(task.points),
                             f"feedback for {task.id}") for index, task in enumerate(TASKS))
    return GradingResults(tasks, seed=11, execution_time=0.5, notes=("micrograd/nn.py is missing",))


@pytest.mark.parametrize("graded", [True, False])
def test_results_follow_the_contract(graded):
    data = json.loads(json.dumps(sample_results(graded).to_gradescope()))
    assert set(data) >= {"score", "execution_time", "output", "tests"}
    assert data["score"] == sum(test["score"] for test in data["tests"])
    assert isinstance(data["execution_time"], float) and isinstance(data["output"], str)
    assert [test["tags"] for test in data["tests"]] == [[task_id] for task_id in TASK_IDS]
    for test, task in zip(data["tests"], TASKS):
        assert test["name"].startswith(task.id)
        assert test["max_score"] == task.points and 0 <= test["score"] <= test["max_score"]
        assert test["status"] == ("passed" if test["score"] == test["max_score"] else "failed")
        assert test["visibility"] == "visible" and isinstance(test["output"], str)
    # the seed is for the instructor
    assert data["extra_data"]["seed"] == 11 and "11" not in data["output"]


def test_results_are_written_atomically_and_read_back(tmp_path, monkeypatch):
    path = tmp_path / "results.json"
    sample_results().write(path)
    assert GradingResults.from_gradescope(json.loads(path.read_text())) == sample_results()
    before = path.read_text()

    def power_cut(fd):
        raise OSError("disk gone")

    monkeypatch.setattr(outputs_module.os, "fsync", power_cut)
    with pytest.raises(OSError):
        sample_results(graded=False).write(path)
    assert path.read_text() == before and os.listdir(tmp_path) == ["results.json"]


def test_only_mgkits_own_results_are_replaced_without_force(tmp_path):
    path = tmp_path / "results.json"
    check_replaceable(path, False, is_results_file)
    path.write_text('{"score": 100}')
    with pytest.raises(FileExistsError, match="--force"):
        check_replaceable(path, False, is_results_file)
    check_replaceable(path, True, is_results_file)
    sample_results().write(path)
    check_replaceable(path, False, is_results_file)


def test_the_views_show_every_task():
    table = render_table(sample_results())
    feedback = render_feedback(sample_results(), "alice")
    for task_id in TASK_IDS:
        assert task_id in table and f"feedback for {task_id}" in feedback
    assert "total" in table and "--seed 11" in table and "alice" in feedback


def test_the_reference_and_the_starter_raise_no_flag():
    """Flags are about what a student wrote: the kit's own lines (draw_dot's `import shutil`) are no
    one's doing."""
    for sources in ({
            module: (REFERENCE_PACKAGE_DIR / f"{module}.py").read_bytes()
            for module in MODULES
    }, {
            module: starter(module).encode()
            for module in MODULES
    }):
        assert Submission("kit", sources).flags == ()
    edited = {"engine": starter("engine").encode() + b"\nimport shutil\nshutil.rmtree('/tmp/x')\n"}
    assert Submission("eve", edited).flags[-1].endswith("reads or writes files")


def test_a_judge_that_breaks_is_a_grader_error_never_the_students_mistake(
        sandbox, tmp_path, monkeypatch):
    import dataclasses

    from autograder.classrun.gradebook import ClassResults, class_rows
    from mgkit_checks import tasks

    def broken(case, report):
        # a bug of the kit's own judge, on a correct submission's report
        return report["no such number"]

    monkeypatch.setitem(tasks.DEFINITIONS, "mul_backward",
                        dataclasses.replace(tasks.DEFINITIONS["mul_backward"], judge=broken))
    results = grade(write_submission(tmp_path / "kim"), seed=3, sandbox=sandbox)
    assert not results.graded and results.score == 0
    assert all("the kit's judge of mul_backward failed" in task.feedback and
               "malformed" not in task.feedback and "not your score" in task.feedback
               for task in results.tasks)
    [row] = class_rows(["kim"], ClassResults(grades={"kim": results}))
    assert row.state == "grader error" and "the kit failed" in row.status
