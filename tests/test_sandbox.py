"""The sandbox on its own (a fake entry that reports what the submission answers): workers that
misbehave become Failures, within their limits, leaving nothing."""

from __future__ import annotations

import functools
import os
import shutil
import signal
import tempfile
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from conftest import all_at_once
from fake_entry import ANSWER, ROOMY, engine_answering, write_submission

from autograder.grading.outcomes import Failure, Observation
from autograder.grading.worker import ImportFailure, TaskSandbox, outcome_of
from autograder.sandbox import Entry, Facts, Limits, SandboxError

# a hang's: each costs it
LIMITS = Limits(seconds=1.0, memory_mb=256, output_bytes=64 * 1024, report_bytes=64 * 1024)
# for what does not hang: a correct answer on a loaded machine never nears this deadline
SPARE = replace(LIMITS, seconds=ROOMY.seconds)
# Seconds beyond the deadline that killing, reaping and answering may take on a loaded machine;
# under GRACE_SECONDS, past which the host gives up on the zygote (a TimeoutError, not a timeout)
SLACK = 4.0
# The deadline a capped stream runs under: a flood the cap stops ends long before it (under half of
# it, real margin on a loaded machine), so the cap, not the clock, is what stopped it
CAPPED_DEADLINE = 30.0


MODES = {"isolated": {}, "user-namespace": {"user_namespace": True}, "portable": {"isolate": False}}


@pytest.fixture(scope="module", params=list(MODES))
def sandbox(request):
    """One zygote for the module's tests: with every isolation layer the machine allows (as root,
    or as root of a user namespace: what a grader without root gets), and without any."""
    with TaskSandbox(SPARE, ANSWER, **MODES[request.param]) as sandbox:
        yield sandbox


def run(sandbox: TaskSandbox, tmp_path: Path, body: str,
        task: str = "task") -> tuple[object, float]:
    folder = write_submission(tmp_path / "submission", engine_answering(body))
    started = time.monotonic()
    outcome = sandbox.run(folder, task, 7)
    return outcome, time.monotonic() - started


def run_capped(sandbox: TaskSandbox, tmp_path: Path, body: str) -> tuple[object, float]:
    """`run` under CAPPED_DEADLINE instead of the limits' second: what stops the worker is a cap."""
    folder = write_submission(tmp_path / "submission", engine_answering(body))
    started = time.monotonic()
    return run_for(sandbox, folder, CAPPED_DEADLINE), time.monotonic() - started


def run_for(sandbox: TaskSandbox, folder: Path, seconds: float) -> object:
    """The outcome of task "task" on `folder` under a deadline of `seconds`, not the limits' own."""
    facts = sandbox.sandbox.run(folder, {
        "task": "task",
        "seed": 7,
        "passed": [],
        "seconds": seconds
    }, seconds)
    return outcome_of(facts, sandbox.limits, seconds)


def test_a_correct_answer_is_an_observation(sandbox, tmp_path):
    outcome, _ = run(sandbox, tmp_path, "pass")
    assert outcome == Observation({"answer": 7 + len("task")})


HANGS = {
    "busy loop":
    "while True:\n    pass",
    "ignores SIGTERM and sleeps":
    "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "signal.signal(signal.SIGINT, signal.SIG_IGN)\ntime.sleep(60)",
    "swallows exceptions":
    "while True:\n    try:\n        time.sleep(60)\n    except BaseException:\n        pass",
}
SLOW_IMPORT = "import time\nwhile True:\n    time.sleep(0.01)\n" + engine_answering("pass")
# case -> the engine.py of a submission that runs into the limits' deadline
WAITS = {
    **{
        name: engine_answering("import time\n" + body)
        for name, body in HANGS.items()
    }, "slow import": SLOW_IMPORT
}


@dataclass(frozen=True)
class Waited:
    outcome: object
    seconds: float  # from the request to the answer
    next_outcome: object  # of a correct task right after it, in the same sandbox


@pytest.fixture(scope="module")
def waited(tmp_path_factory) -> dict[tuple[str, str], Waited]:
    """Every case of WAITS in every mode, each in a sandbox of its own and all at once: each waits a
    second for its deadline, so the waits overlap instead of adding up."""
    def wait_for_the_deadline(mode: str, case: str) -> Waited:
        folder = tmp_path_factory.mktemp("waits")
        hanging, correct = write_submission(folder / "hanging",
                                            WAITS[case]), write_submission(folder / "correct")
        with TaskSandbox(LIMITS, ANSWER, **MODES[mode]) as sandbox:
            # the zygote booted before the clock starts; the correct runs have time to spare
            run_for(sandbox, correct, SPARE.seconds)
            started = time.monotonic()
            outcome = sandbox.run(hanging, "task", 7)
            seconds = time.monotonic() - started
            return Waited(outcome, seconds, run_for(sandbox, correct, SPARE.seconds))

    return all_at_once({(mode, case): functools.partial(wait_for_the_deadline, mode, case)
                        for mode in MODES for case in WAITS})


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("body", HANGS)
def test_a_hang_is_a_timeout_within_the_deadline(waited, mode, body):
    run = waited[mode, body]
    assert isinstance(run.outcome, Failure) and run.outcome.kind == "timeout"
    assert LIMITS.seconds <= run.seconds < LIMITS.seconds + SLACK
    assert run.next_outcome == Observation({"answer": 7 + len("task")})  # the zygote serves on


def test_a_memory_grab_is_a_memory_failure(sandbox, tmp_path):
    outcome, _ = run(sandbox, tmp_path, "hog = bytearray(4 * 2**30)")
    assert outcome == Failure("memory", "MemoryError")


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_a_flood_of_output_is_an_output_failure(sandbox, tmp_path, stream):
    outcome, seconds = run_capped(sandbox, tmp_path,
                                  f"import sys\nwhile True:\n    sys.{stream}.write('x' * 10000)")
    assert isinstance(outcome, Failure) and outcome.kind == "output"
    assert seconds < CAPPED_DEADLINE / 2  # stopped by the cap, not by the deadline


def test_printing_within_the_cap_is_fine(sandbox, tmp_path):
    outcome, _ = run(sandbox, tmp_path, "print('debugging', 42)")
    assert isinstance(outcome, Observation)


@pytest.mark.parametrize(
    "body, kind, words", [
        ("import sys\nsys.exit(0)", "error", "SystemExit"),
        ("raise KeyboardInterrupt", "error", "KeyboardInterrupt"),
        ("import os\nos._exit(0)", "crash", "exited before reporting"),
        ("import os\nos._exit(3)", "crash", "exit code 3"),
        ("import ctypes\nctypes.string_at(0)", "crash", "SIGSEGV"),
        ("raise ValueError('bad ' * 1000)", "error", "ValueError: bad bad"),
        ("class Weird(Exception):\n"
         "    def __str__(self):\n        raise RuntimeError\nraise Weird()",
         "error", "could not be read"),
        ("raise NotImplementedError('mul_backward: write it')", "not_run", "mul_backward"),
    ], ids=[
        "sys.exit", "KeyboardInterrupt", "os._exit(0)", "os._exit(3)", "segfault", "long message",
        "__str__ raises", "starter"
    ])
def test_escapes_and_crashes_are_failures(sandbox, tmp_path, body, kind, words):
    outcome, _ = run(sandbox, tmp_path, body)
    assert isinstance(outcome, Failure) and outcome.kind == kind and words in outcome.detail
    assert len(outcome.detail) <= 300 and "\n" not in outcome.detail


@pytest.mark.parametrize("report", [
    b"not json{",
    b"[" * 100_000 + b"]" * 100_000,
    b'{"observation": 5}',
    b'{"verdict": "passed"}',
    b'{"observation": {"answer": 11}}{"observation": {"answer": 11}}',
], ids=["garbage", "nested to break the parser", "not a dict", "claims a verdict", "two reports"])
def test_a_forged_or_garbage_report_is_rejected(sandbox, tmp_path, report):
    outcome, _ = run(sandbox, tmp_path, f"import os\nos.write(3, {report!r})\nos._exit(0)")
    assert isinstance(outcome, Failure) and outcome.kind == "error"


def test_a_report_past_the_cap_is_rejected(sandbox, tmp_path):
    outcome, seconds = run_capped(sandbox, tmp_path,
                                  "import os\nwhile True:\n    os.write(3, b'x' * 65536)")
    assert isinstance(outcome,
                      Failure) and outcome.kind == "error" and "larger than" in outcome.detail
    assert seconds < CAPPED_DEADLINE / 2


@pytest.mark.parametrize("how", ["child", "detached grandchild"])
def test_no_process_the_worker_starts_outlives_the_task(sandbox, tmp_path, how):
    marker = f"{uuid.uuid4().int % 10**6}.{os.getpid()}"  # a unique `sleep` duration to look for
    body = f"""
import os
ready_r, ready_w = os.pipe()
try:
    pid = os.fork()
except OSError:  # a layer that forbids processes: nothing to outlive the task
    pid = None
if pid == 0:
    if {how != "child"}:  # double fork into a new session: no longer in the worker's group
        os.setsid()
        if os.fork():
            os._exit(0)
    os.execv("/bin/sleep", ["sleep", "{marker}"])  # closes ready_w: os.pipe() is close-on-exec
if pid is not None:
    os.close(ready_w)
    os.read(ready_r, 1)  # end of file once the sleeper has started: it exists before we answer
"""
    outcome, _ = run(sandbox, tmp_path, body)
    assert isinstance(outcome, Observation)
    assert not _processes_running(marker)


def _processes_running(marker: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as file:
                if marker.encode() in file.read():
                    found.append(int(entry))
        except (OSError, ValueError):
            continue
    return found


def test_the_reference_is_not_importable_in_the_worker(sandbox, tmp_path):
    body = """
import importlib, os, sys
for name in ("autograder.reference.solution", "solutions.micrograd", "mgkit_reference_micrograd",
             "autograder.reference.training"):
    try:
        importlib.import_module(name)
    except ImportError:
        continue
    raise AssertionError(f"imported {name}")
HIDDEN = ("autograder.reference", "mgkit_reference", "solutions")
assert not [m for m in sys.modules if m.startswith(HIDDEN) and sys.modules[m] is not None]
assert os.getcwd() == sys.path[0]
assert not [entry for entry in sys.path if "work/main" in entry or entry in ("", ".")]
"""
    outcome, _ = run(sandbox, tmp_path, body)
    assert isinstance(outcome, Observation), outcome


# layer -> what the worker tries (it must raise OSError); {kit} and {other} are filled in
REACHING_OUT = {
    "mount-namespace": [
        "open('{kit}/solutions/micrograd/engine.py').read()",  # the reference, on disk
        "open('{kit}/autograder/sandboxed/trusted.py').read()",  # the hidden checks' source
        "os.listdir('{other}')",  # another student's work, hidden by the caller
        "open('{kit}/{forged}', 'w').write('{{}}')",  # a forged result anywhere it can reach
        # its own copy
        "open(os.path.join(os.getcwd(), 'micrograd', 'engine.py'), 'a').write('# changed')",
    ],
    "network-namespace": ["__import__('socket').create_connection(('1.1.1.1', 53), timeout=1)"],
    "no-capabilities": ["os.setuid(12345)", "os.chroot('/')"],
    "syscall-filter": [
        "os.fork()", "__import__('threading').Thread(target=print).start() or os.fork()",
        "os.kill({grader}, 0)", "os.kill(-1, 0)"
    ],  # no signal out, not even a probe
}


@pytest.fixture(scope="module")
def other_student(tmp_path_factory) -> Path:
    return write_submission(tmp_path_factory.mktemp("other") / "other-student")


@pytest.fixture(scope="module", params=[False, True], ids=["root", "user namespace"])
def hiding_sandbox(request, other_student):
    """One zygote per way the grader runs (as root, or as root of a user namespace), hiding another
    student's work, for every attempt below: each attempt is a worker of its own."""
    with TaskSandbox(SPARE, ANSWER, hide=[other_student], user_namespace=request.param) as sandbox:
        sandbox.run(other_student, "task", 1)  # learns which layers this machine allows
        yield sandbox


@pytest.mark.parametrize("layer, attempt", [(layer, attempt)
                                            for layer, attempts in REACHING_OUT.items()
                                            for attempt in attempts])
def test_the_isolation_layers_keep_the_worker_in(hiding_sandbox, other_student, tmp_path, layer,
                                                 attempt):
    if layer not in hiding_sandbox.isolation:
        pytest.skip(f"this machine does not allow {layer}")
    kit = Path(__file__).resolve().parents[1]
    forged = f"results-forged-{uuid.uuid4().hex}.json"
    attempt = attempt.format(kit=kit, other=other_student, forged=forged, grader=os.getpid())
    body = (f"import os\ntry:\n    {attempt}\nexcept (OSError, RuntimeError):\n    pass\n"
            "else:\n    raise AssertionError")
    outcome, _ = run(hiding_sandbox, tmp_path, body)
    assert outcome == Observation({"answer": 11})
    assert not (kit / forged).exists()
    assert (tmp_path / "submission" / "micrograd" /
            "engine.py").read_text() == engine_answering(body)


def test_the_own_user_layer_alone_keeps_roots_files_and_new_processes_out_of_reach(tmp_path):
    # a world-readable folder (pytest's are not) holding a file only root may write and a closed
    # folder
    open_folder = Path(tempfile.mkdtemp(prefix="mgkit-test-"))
    try:
        open_folder.chmod(0o755)
        (open_folder / "roots.txt").write_text("root's")
        (open_folder / "closed").mkdir(mode=0o700)
        attempts = [
            f"open('{open_folder}/roots.txt', 'a')", f"os.listdir('{open_folder}/closed')",
            "os.fork()", "os.setuid(0)"
        ]
        body = "import os\n" + "".join(f"try:\n    {attempt}\nexcept OSError:\n    pass\n"
                                       f"else:\n    raise AssertionError({attempt!r})\n"
                                       for attempt in attempts)
        with TaskSandbox(SPARE, ANSWER, layers=("own-user",), user_namespace=False) as sandbox:
            # as grade's private copy: a folder right in /tmp
            outcome, _ = run(sandbox, open_folder, body)
            if "own-user" not in sandbox.isolation:
                pytest.skip(
                    "own-user needs root and a Python every user can read (not one in /root)")
        assert outcome == Observation({"answer": 11})
        assert (open_folder / "roots.txt").read_text() == "root's"
    finally:
        shutil.rmtree(open_folder)


def test_a_dead_zygote_is_a_grader_failure_then_a_fresh_start(tmp_path):
    with TaskSandbox(SPARE, ANSWER, isolate=False) as sandbox:
        outcome, _ = run(sandbox, tmp_path,
                         "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)")
        assert isinstance(outcome, Failure) and outcome.kind == "grader"
        assert run(sandbox, tmp_path / "again", "pass")[0] == Observation({"answer": 11})


def test_the_zygote_refuses_an_entry_that_loads_what_it_forbids(tmp_path):
    leaky = tmp_path / "leaky_entry.py"
    leaky.write_text(
        "from autograder.reference import solution\nfrom autograder.sandboxed.entry import"
        " FORBIDDEN_MODULES, run\n\nsolution.load()\n")
    with TaskSandbox(SPARE,
                     f"{leaky}:run") as sandbox, pytest.raises(SandboxError, match="reference"):
        sandbox.run(write_submission(tmp_path / "submission"), "task", 1)


def test_facts_become_outcomes_in_the_parent():
    def outcome(**facts):
        return outcome_of(Facts(**{"imported": True, **facts}), LIMITS, LIMITS.seconds)

    assert outcome(exit_code=0, report='{"observation": {"x": 1.5}}') == Observation({"x": 1.5})
    assert outcome(signal=signal.SIGXCPU).kind == "timeout"
    assert outcome(signal=signal.SIGKILL).kind == "crash"
    # flood counts
    assert outcome(report='{"observation": {}}', output_bytes=LIMITS.output_bytes).kind == "output"
    assert outcome(exit_code=0, report='{"setup_failed": "x"}').kind == "grader"
    assert type(outcome(timed_out=True)) is Failure
    assert outcome(timed_out=True, imported=False) == ImportFailure("timeout",
                                                                    "no answer within 1 s")


@pytest.mark.parametrize("spec", ["no_colon", ":run", "module:"])
def test_an_entry_point_is_module_colon_function(spec):
    with pytest.raises(ValueError, match="module:function"):
        Entry.named(spec)
    assert Entry.named("autograder.sandboxed.entry:run") == Entry("autograder.sandboxed.entry",
                                                                  "run")


@pytest.mark.parametrize("mode", MODES)
def test_a_slow_import_is_told_as_one_with_where_the_time_went(waited, mode):
    outcome = waited[mode, "slow import"].outcome
    assert isinstance(outcome, ImportFailure) and outcome.kind == "timeout", outcome
    assert ("importing your files took more than 1 s (engine.py, line 3 was running"
            in outcome.detail), outcome.detail


@pytest.mark.parametrize("statement, refused", [
    ("import graphviz, matplotlib, numpy, json", False), ("from matplotlib import pyplot", False),
    ("import pytest", True), ("from pytest import approx", True),
])
def test_the_worker_refuses_the_imports_the_preview_refuses(sandbox, tmp_path, statement, refused):
    # the rule, not the clock: importing matplotlib's pyplot may take over the limits' 1 s on a
    # loaded machine
    folder = write_submission(tmp_path / "submission", f"{statement}\n{engine_answering('pass')}")
    outcome = run_for(sandbox, folder, CAPPED_DEADLINE)
    if refused:  # pytest is installed here: refused all the same, as everywhere
        assert isinstance(outcome,
                          Failure) and "the grade cannot import pytest" in outcome.detail, outcome
    else:
        assert isinstance(outcome, Observation), outcome
