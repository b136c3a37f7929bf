"""The red team: hostile and broken submissions (tests/hostile.py) against the real grader.

For every case: the grade is true (exactly the tasks it touches score 0, the rest full marks),
every task is in results.json, grading ends within the case's deadlines, no process it started
survives, no file it aimed at changes (not even a while later), the honest student beside it
is untouched, and the feedback holds no line of the hidden checks or the reference's solutions.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import tempfile
import time
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import pytest
from hostile import (
    CASES,
    LATE_SURVIVOR,
    TARGETS,
    WRITE_EVERYWHERE,
    Case,
    at_import,
    engine,
    submission,
)

import autograder.sandboxed
from autograder.classrun.gradebook import GRADEBOOK, RESULTS, grade_all
from autograder.grading.loop import grade
from autograder.grading.results import GradingResults
from autograder.grading.worker import TaskSandbox as Sandbox
from autograder.reference.markers import find_regions
from autograder.reference.rubric import BY_ID, TASK_IDS, TOTAL_POINTS
from autograder.reference.solution import KIT_ROOT, MODULES, REFERENCE_PACKAGE_DIR
from autograder.sandbox import GRACE_SECONDS, Limits

# Short deadlines keep the suite fast; a correct task of the real checks takes ~0.3 s at most.
LIMITS = Limits(seconds=2.0, memory_mb=512, output_bytes=256 * 1024)
SEED = 4242
# seconds beyond its deadlines a case may take on a loaded machine: the honest tasks, judging
SLACK = 12.0
LATE = 2.0  # how long to watch for effects that come after grading (a survivor sleeps ~1.x s first)


@pytest.fixture(scope="module")
def classroom(tmp_path_factory) -> Path:
    """A class folder: an honest student, alice, beside whom every hostile case is graded."""
    root = tmp_path_factory.mktemp("class")
    shutil.copytree(REFERENCE_PACKAGE_DIR, root / "alice" / "micrograd",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return root


@pytest.fixture(scope="module")
def sandbox(classroom):
    # as grade-all hides the class from workers
    with Sandbox(limits=LIMITS, hide=[classroom]) as sandbox:
        # also tells which layers are in force
        honest = grade(classroom / "alice", SEED, sandbox=sandbox)
        assert honest.score == TOTAL_POINTS, honest.summary()
        yield sandbox


def holds(need: str, sandbox: Sandbox) -> bool:
    """Whether what a case needs is in force here (else the case cannot hold, and is skipped)."""
    layers = set(sandbox.isolation)
    return {
        "": True,
        # the kit, others' work and the disk out of reach
        "filesystem": "mount-namespace" in layers,
        "processes": "syscall-filter" in layers or os.geteuid() != 0,  # seccomp, or RLIMIT_NPROC
        # kill(-1) reaches no one outside
        "signals": bool(layers & {"syscall-filter", "pid-namespace"}),
    }[need]


@contextmanager
def _counting_deadlines(sandbox: Sandbox):
    """The tasks whose worker ran into its deadline while the block ran."""
    timed_out: list[str] = []
    run = sandbox.run

    def counting(folder, task_id, *args, **kwargs):
        outcome = run(folder, task_id, *args, **kwargs)
        if getattr(outcome, "kind", None) == "timeout":
            timed_out.append(task_id)
        return outcome

    sandbox.run = counting
    try:
        yield timed_out
    finally:
        del sandbox.run


def _one_per_family(cases: tuple[Case, ...]) -> list:
    """The cases as parameters: the first of each family in the inner loop, the rest slow. Each case
    is graded in its own test: what it asserts (no survivor, no trace, the neighbour untouched) is
    the state right after its own grade, which a batch would blame on another case."""
    first = {case.family: case for case in reversed(cases)}.values()
    return [
        pytest.param(case, id=case.name, marks=() if case in first else pytest.mark.slow)
        for case in cases
    ]


@pytest.mark.parametrize("case", _one_per_family(CASES))
def test_a_hostile_or_broken_submission_gets_its_true_grade_and_leaves_nothing(
        case, sandbox, classroom, tmp_path):
    if not holds(case.needs, sandbox):
        pytest.skip(
            f"needs {case.needs}, which this machine's sandbox lacks"
            f" ({', '.join(sandbox.isolation)}): see docs/SECURITY.md"
        )
    mark = str(random.randrange(10**7, 10**8))
    places = _places(mark, classroom, tmp_path / "out")
    path = _write(case, classroom / "cases" / mark, places)
    neighbour = _snapshot(classroom / "alice")
    try:
        started = time.monotonic()
        with _counting_deadlines(sandbox) as deadlines:
            results = grade(path, SEED, sandbox=sandbox)
        seconds = time.monotonic() - started
        results.write(places["@OUT@"] / RESULTS)
        written = (places["@OUT@"] / RESULTS).read_text()
        if case.late:
            time.sleep(LATE)

        assert results.graded, results.summary()
        assert _failed(results) == sorted(case.fails), _feedback(results)
        assert results.score == TOTAL_POINTS - sum(BY_ID[task].points for task in case.fails)
        # a hang costs its deadline once, whatever the load
        assert len(deadlines) <= case.deadlines, deadlines
        # wall time, with real margin
        assert seconds < case.deadlines * (LIMITS.seconds + GRACE_SECONDS) + SLACK
        assert not _processes_with(mark)
        assert not _traces(mark, places)
        assert (places["@OUT@"] / RESULTS).read_text() == written
        assert _snapshot(classroom / "alice") == neighbour
        _assert_strict_results(written)
        _assert_no_secrets(results)
        for flag in case.flags:
            assert any(flag in found for found in results.flags), results.flags
        for note in case.notes:
            assert any(note in found for found in results.notes), results.notes
    finally:
        _clean(mark, places)
        shutil.rmtree(classroom / "cases" / mark, ignore_errors=True)


def test_a_hang_a_fork_bomb_or_a_memory_grab_in_one_closure_costs_its_op_and_grad_accumulation():
    """The closure's accumulation could not be seen, so grad_accumulation is not paid (80 on the
    kit's course)."""
    for name in ("infinite loop in one closure", "fork bomb", "4 GB memory grab in a closure"):
        case = next(case for case in CASES if case.name == name)
        op = next(task for task in case.fails if task != "grad_accumulation")
        assert case.fails == {op, "grad_accumulation"} & set(TASK_IDS), name
        assert TOTAL_POINTS - sum(BY_ID[task].points
                                  for task in case.fails) < TOTAL_POINTS - BY_ID[op].points


def test_the_suite_covers_every_family_of_the_issue():
    families = {case.family for case in CASES}
    assert families == {
        "liveness", "escape", "tampering", "gaming", "reaching out", "broken", "notebook"
    }
    assert len(CASES) >= 30


def test_a_class_with_a_hostile_student_grades_the_honest_ones_untouched(tmp_path):
    """grade-all: mallory attacks her neighbours, the kit and the results; alice and bob lose
    nothing."""
    submissions, out = tmp_path / "submissions", tmp_path / "out"
    mark = str(random.randrange(10**7, 10**8))
    places = _places(mark, submissions, out / "mallory")
    places["@NEIGHBOUR@"] = submissions / "alice"
    hostile = Case("mallory", "reaching out", submission(
        engine(WRITE_EVERYWHERE + LATE_SURVIVOR, add_backward=WRITE_EVERYWHERE),
        nn=at_import(_reference("nn"), "while True:\n    pass")), frozenset({"zero_grad"}))
    _write(hostile, submissions, places)
    for student in ("alice", "bob"):
        shutil.copytree(REFERENCE_PACKAGE_DIR, submissions / student / "micrograd",
                        ignore=shutil.ignore_patterns("__pycache__"))
    honest = {student: _snapshot(submissions / student) for student in ("alice", "bob")}
    try:
        results = grade_all(submissions, out, workers=2, seed=SEED, limits=LIMITS)
        time.sleep(LATE)
        assert not results.errors
        assert {student: grade_.score for student, grade_ in results.grades.items()} == {
            "alice": TOTAL_POINTS, "bob": TOTAL_POINTS, "mallory": TOTAL_POINTS - 10}
        for student in ("alice", "bob", "mallory"):
            data = json.loads((out / student / RESULTS).read_text())
            assert [test["tags"] for test in data["tests"]] == [[task_id] for task_id in TASK_IDS]
        assert {student: _snapshot(submissions / student) for student in honest} == honest
        assert (out / GRADEBOOK).read_text().count("\n") == 4
        if holds("filesystem", _any_sandbox()):
            assert not _traces(mark, places)
        assert not _processes_with(mark)
    finally:
        _clean(mark, places)


@pytest.mark.parametrize("construct, flag", [
    ("frame = sys._getframe(1)", "reads the caller's frames"),
    ("objects = gc.get_objects()", "searches the garbage collector"),
    ("import ctypes", "uses ctypes"),
    ("os._exit(0)", "ends the process"),
    ("signal.signal(signal.SIGTERM, signal.SIG_IGN)", "handles signals"),
    ("o = 0.7071067811865476", "holds the lecture's numbers"),
    ("import torch", "imports torch"),
    ("from micrograd.engine import Value", "imports micrograd into its own engine"),
    ("open('/autograder/results/results.json', 'w')", "reads or writes files"),
    ("os.write(3, b'{}')", "reads or writes files"),
    ("getattr(__import__('o' + 's'), '_exit')(0)", "runs code built at run time"),
    ("GRADED = os.environ.get('HOME') == '/nonexistent'", "looks at its surroundings"),
], ids=lambda text: text if " " not in text[:12] else None)
def test_suspicious_constructs_are_flagged_for_an_instructor(tmp_path, construct, flag):
    from autograder.grading.submission import load

    folder = tmp_path / "sam"
    for path, text in submission(engine=at_import(_reference("engine"), construct)).items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(text)
    assert any(flag in found and found.startswith("engine.py:") for found in load(folder).flags)


# ---- helpers ---------------------------------------------------------------------------------

def _reference(module: str) -> str:
    return (REFERENCE_PACKAGE_DIR / f"{module}.py").read_text()


def _places(mark: str, classroom: Path, out: Path) -> dict[str, Path | str]:
    out.mkdir(parents=True, exist_ok=True)
    return {"@MARK@": mark, "@KIT@": KIT_ROOT, "@NEIGHBOUR@": classroom / "alice", "@OUT@": out,
            "@HOME@": Path.home(), "@TMP@": Path(tempfile.gettempdir())}


def _fill(text: str, places: dict) -> str:
    for placeholder, value in places.items():
        text = text.replace(placeholder, str(value))
    return text


def _write(case: Case, parent: Path, places: dict) -> Path:
    """The case's submission under `parent`: a notebook file, or a folder of files."""
    parent.mkdir(parents=True, exist_ok=True)
    notebooks = [name for name in case.files if name.endswith(".ipynb")]
    if notebooks:
        (parent / notebooks[0]).write_text(_fill(case.files[notebooks[0]], places))
        return parent / notebooks[0]
    folder = parent / case.folder
    folder.mkdir()
    for name, text in case.files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(_fill(text, places))
    return folder


def _failed(results: GradingResults) -> list[str]:
    return sorted(task.task_id for task in results.tasks if not task.passed)


def _feedback(results: GradingResults) -> str:
    return "\n".join(f"{task.task_id}: {task.feedback}" for task in results.tasks)


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def _processes_with(mark: str) -> list[int]:
    """Processes whose command line carries the mark (the hostile code puts it in every one it
    starts)."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as file:
                if mark.encode() in file.read():
                    found.append(int(entry))
        except (OSError, ValueError):
            continue
    return found


def _victims(places: dict) -> list[Path]:
    """Existing files the hostile code appends its mark to."""
    return [
        Path(_fill(path, places))
        for path in ("@NEIGHBOUR@/micrograd/engine.py", "@KIT@/autograder/sandboxed/traversal.py",
                     "@KIT@/README.md")
    ]


def _traces(mark: str, places: dict) -> list[str]:
    """Every trace of the mark where hostile code aimed: pwned-<mark> files, forged results,
    appended marks."""
    folders = [Path(_fill(target, places)) for target in TARGETS] + [Path("/autograder/results")]
    found = [
        str(folder / f"pwned-{mark}") for folder in folders if (folder / f"pwned-{mark}").exists()
    ]
    found += [
        str(folder / RESULTS) for folder in folders
        if (folder / RESULTS).is_file() and mark in (folder / RESULTS).read_text(errors="replace")
    ]
    return found + [
        str(path) for path in _victims(places) if path.is_file() and mark in path.read_text()
    ]


def _clean(mark: str, places: dict) -> None:
    """Remove every trace, so that a failing run leaves the machine as it found it."""
    for trace in _traces(mark, places):
        path = Path(trace)
        if path.name == f"pwned-{mark}" or path.name == RESULTS:
            path.unlink(missing_ok=True)
        else:
            path.write_text(path.read_text().replace(f"# pwned-{mark}", ""))
    for pid in _processes_with(mark):
        try:
            os.kill(pid, 9)
        except OSError:
            pass


def _assert_strict_results(text: str) -> None:
    """results.json is strict JSON (no NaN or Infinity), with every task."""
    def refuse(constant: str) -> None:
        raise ValueError(f"results.json holds {constant}")

    data = json.loads(text, parse_constant=refuse)
    assert [test["tags"] for test in data["tests"]] == [[task_id] for task_id in TASK_IDS]


@cache
def _secret_lines() -> tuple[str, ...]:
    """Lines of the unshipped checks and of the reference's solution regions, spaces folded; not
    those the students' own checks hold too (the kit's advice may name a line: "call
    model.zero_grad() ...")."""
    checks = Path(autograder.sandboxed.__file__).parent
    texts = [path.read_text() for path in checks.glob("*.py")]
    lines = [line for text in texts for line in text.splitlines()]
    for module in MODULES:
        path = REFERENCE_PACKAGE_DIR / f"{module}.py"
        source = path.read_text().splitlines()
        lines += [
            line for region in find_regions(path) for line in source[region.begin:region.end - 1]
        ]
    shipped = " ".join(" ".join(path.read_text().split())
                       for path in (KIT_ROOT / "mgkit_checks").glob("*.py"))
    folded = (" ".join(line.split()) for line in lines)
    return tuple(line for line in folded if len(line) >= 16 and line not in shipped)


def _assert_no_secrets(results: GradingResults) -> None:
    shown = " ".join(" ".join(text.split())
                     for text in (results.summary(), *(task.feedback for task in results.tasks)))
    leaked = [line for line in _secret_lines() if line in shown]
    assert not leaked, leaked


_sandboxes: list[Sandbox] = []


def _any_sandbox() -> Sandbox:
    """A sandbox that has started, to learn which layers this machine allows."""
    if not _sandboxes:
        sandbox = Sandbox(limits=LIMITS)
        with tempfile.TemporaryDirectory() as folder:
            grade(Path(folder), SEED, sandbox=sandbox)
        sandbox.close()
        _sandboxes.append(sandbox)
    return _sandboxes[0]
