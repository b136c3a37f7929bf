"""The sandbox: student code runs in forked workers; the trusted parent reads plain facts.

    with Sandbox() as sandbox:
        outcome = sandbox.run(folder, "mul_backward", seed)   # an Observation or a Failure

Three processes, three levels of trust:
- the parent (this module, in the `mgkit` process) holds the seed and the expected values,
  decides every verdict and alone writes results;
- the zygote (zygote.py, a clean `python -I`) has numpy and the checks' worker side imported,
  never student code and never the reference, and forks one worker per task;
- the worker imports the student's package fresh from its private folder, runs
  `checks.observe(task, seed, imported, passed)` and writes JSON to a pipe. It is never trusted: its
  report is read with a size cap and parsed here as plain JSON data. (`imported()` is the
  checks' word that the task's imports are done: a worker that stops before it gives an
  ImportFailure, so the caller need not run the other tasks that import the same.)

Limits are enforced from outside the worker: a wall-clock deadline with SIGKILL on its whole
process group, RLIMIT_AS / CPU / FSIZE / NPROC (root is exempt from NPROC), output to a capped
in-memory file, and every descendant killed and reaped (the zygote is their subreaper) before
the answer comes back. Where the machine allows them, each worker also gets the layers of
zygote.LAYERS: a fresh PID namespace (its death takes every process it started along), a
read-only filesystem in which the kit and other students' work are empty folders, no network,
a user of its own (as root: the zygote's own unprivileged uid, so root's files are out of reach
and NPROC holds), no capabilities, and a seccomp filter (no new process, no signal or tracing
aimed at anyone else). `Sandbox.isolation` names the layers in force; docs/SECURITY.md says
which hold where.
"""

from __future__ import annotations

import importlib
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from mgkit_checks.course import COURSE
from mgkit_checks.world import DEFAULT_SECONDS, seconds_for

from ..sandboxed.api import Failure, Observation, Outcome
from .zygote import OPTIONAL, SLOW_IMPORT

# argv[1] is the folder holding `autograder`; the zygote drops it from sys.path once booted
ZYGOTE_BOOT = ("import sys; sys.path.insert(0, sys.argv[1]); "
               "from autograder.sandbox import zygote; zygote.main(sys.argv[1:])")
STARTUP_SECONDS = 60.0  # importing numpy on a cold disk can be slow; a healthy start takes ~0.1 s
GRACE_SECONDS = 5.0  # what the zygote may need beyond a task's deadline to kill and reap
DETAIL_CHARS = 300  # an exception message in feedback: enough to recognise, short enough to read
# Numerical libraries must not start thread pools in the zygote: a forked copy would inherit
# locks held by threads that no longer exist.
ZYGOTE_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "LC_ALL": "C.UTF-8", "PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "MPLBACKEND": "Agg"}


@dataclass(frozen=True)
class Limits:
    """What one task's worker may use."""

    seconds: float | None = None  # wall clock, from fork to report, imports included; None: the task's own
    # budget, the preview's too (mgkit_checks.world.TASK_SECONDS: 5 s, 20 s for training)
    memory_mb: int = 1024  # address space beyond what the zygote already maps (numpy and all)
    output_bytes: int = 1 << 20  # stdout and stderr together; a flood past this fails the task
    report_bytes: int = 4 << 20  # the JSON report; the checks' reports are a few kilobytes


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class ImportFailure(Failure):
    """A worker stopped before its task's imports were done: the import itself hangs, crashes or floods."""


class SandboxError(RuntimeError):
    """The sandbox itself cannot run (the kit is broken): nothing can be graded."""


class Sandbox:
    """One zygote, started on first use (or by `start`), restarted if it dies; a context manager.

    `checks` is the checks module, or its name: with a name the parent need not import it
    before the zygote boots, so the two imports run side by side.
    """

    def __init__(self, checks: ModuleType | str = "autograder.sandboxed", limits: Limits = DEFAULT_LIMITS,
                 isolate: bool = True, hide: Sequence[Path] = (), user_namespace: bool | None = None,
                 layers: Sequence[str] = OPTIONAL):
        self._checks = checks
        # without root, the zygote makes its own user and PID namespaces where the machine allows
        self.user_namespace = os.geteuid() != 0 if user_namespace is None else user_namespace
        self.hide = tuple(str(Path(path).resolve()) for path in hide)  # beside the kit: e.g. other students' work
        self.limits = limits
        # the optional layers to try (the machine decides which hold); isolate=False: none, only
        # the portable mechanisms, as fewer layers show what the others hold alone
        unknown = set(layers) - set(OPTIONAL)
        if unknown:
            raise ValueError(f"no such sandbox layer: {', '.join(sorted(unknown))} (known: {', '.join(OPTIONAL)})")
        self.layers = tuple(layers) if isolate else ()
        self.isolation: tuple[str, ...] = ()
        self._zygote: subprocess.Popen | None = None
        self._ready = False
        self._buffer = b""
        self._worker: int | None = None

    @property
    def checks(self) -> ModuleType:
        """The checks module, in the parent: its `judge` decides."""
        if isinstance(self._checks, str):
            self._checks = importlib.import_module(self._checks)
        return self._checks

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def start(self) -> None:
        """Boot the zygote without waiting for it: the first `run` waits."""
        if self._zygote is not None:
            return
        kit_path = str(Path(__file__).resolve().parents[2])  # the folder that holds `autograder`
        name, file = (self._checks, None) if isinstance(self._checks, str) else (self._checks.__name__,
                                                                                  self._checks.__file__)
        config = {"checks_name": name, "checks_file": file, "limits": asdict(self.limits), "layers": self.layers,
                  "hide": list(self.hide), "user_namespace": self.user_namespace,
                  "parent": os.getpid()}  # the zygote dies with this process
        self._zygote = subprocess.Popen(
            [sys.executable, "-I", "-c", ZYGOTE_BOOT, kit_path, json.dumps(config)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd="/",
            env={**ZYGOTE_ENV, "MGKIT_COURSE": str(COURSE.path),  # it reads the course when it boots, as we did
                 "MPLCONFIGDIR": _matplotlib_cache()},
            start_new_session=True,  # its own process group: close() kills it and nothing else
        )
        self._ready = False

    def run(self, folder: Path, task_id: str, seed: int, passed: Sequence[str] = ()) -> Outcome:
        """Run `observe(task_id, seed, ..., passed)` on the package in `folder`; the facts become an Outcome here.

        `passed` names the tasks that passed so far: the cases that run their code run now.
        """
        self._await_ready()
        seconds = self.seconds_for(task_id)
        try:
            request = {"folder": str(folder), "task": task_id, "seed": seed, "passed": list(passed),
                       "seconds": seconds}
            self._zygote.stdin.write(json.dumps(request).encode() + b"\n")
            self._zygote.stdin.flush()
            self._worker = self._receive(STARTUP_SECONDS).get("started")  # None: the zygote's death kills it
            reply = self._receive(seconds + GRACE_SECONDS)
        except (OSError, TimeoutError, ValueError) as error:  # the zygote died or hung: start afresh
            self.close()
            return Failure("grader", f"the grader's worker process failed ({error})")
        self._worker = None
        return outcome_of(reply, self.limits, seconds)

    def seconds_for(self, task_id: str) -> float:
        """The task's wall-clock budget: the limits' own, else the one the preview gives it too."""
        return self.limits.seconds if self.limits.seconds is not None else seconds_for(task_id)

    def close(self) -> None:
        """Stop the zygote and anything still running under it."""
        if self._worker is not None:
            _killpg(self._worker)
            self._worker = None
        if self._zygote is not None:
            _killpg(self._zygote.pid)
            self._zygote.wait()
            self._zygote.stdin.close()
            self._zygote.stdout.close()
            self._zygote = None
        self._buffer = b""

    def _await_ready(self) -> None:
        self.start()
        if self._ready:
            return
        try:
            hello = self._receive(STARTUP_SECONDS)
        except (OSError, TimeoutError, ValueError) as error:
            self.close()
            raise SandboxError(f"the grader's zygote did not start: {error}") from error
        if "fatal" in hello:
            self.close()
            raise SandboxError(f"the grader's zygote could not start: {hello['fatal']}")
        self.isolation = tuple(hello.get("isolation", ()))
        self._ready = True

    def _receive(self, seconds: float) -> dict[str, Any]:
        """The zygote's next message; TimeoutError if none comes in time, OSError if it is gone."""
        deadline = time.monotonic() + seconds
        fd = self._zygote.stdout.fileno()
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise TimeoutError(f"no answer within {seconds:g} s")
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                raise OSError("the zygote exited")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        message = json.loads(line)
        if "grader_error" in message:
            raise OSError(message["grader_error"])
        return message


def _matplotlib_cache() -> str:
    """A folder every worker can read (their /tmp is new and empty) where matplotlib keeps its font
    list: built once per machine, so that `import matplotlib.pyplot` takes a fraction of a second."""
    folder = Path("/var/tmp") / f"mgkit-matplotlib-{os.geteuid()}"
    try:
        folder.mkdir(mode=0o755, exist_ok=True)
    except OSError:
        return tempfile.mkdtemp(prefix="mgkit-matplotlib-")
    return str(folder)


def _killpg(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


# ---- facts to an outcome: the parent's reading of what the zygote saw ------------------------

def outcome_of(reply: dict[str, Any], limits: Limits, seconds: float | None = None) -> Outcome:
    """An Observation only for a clean exit with a well-formed report; a Failure for anything else.

    A worker stopped (hung, killed, flooding, exiting) before it got past its imports gives an
    ImportFailure: every task that imports the same would stop alike.
    """
    stopped = _stopped(reply, limits, seconds or limits.seconds or DEFAULT_SECONDS)
    if stopped is None:
        outcome = _report_outcome(_parse(reply["report"]))
        if not (isinstance(outcome, Failure) and outcome.kind == "timeout"):
            return outcome
        stopped = outcome  # the worker reported that its imports used up its time
    return stopped if reply.get("imported", True) else ImportFailure(stopped.kind, stopped.detail)


def _stopped(reply: dict[str, Any], limits: Limits, seconds: float) -> Failure | None:
    """How the worker was stopped, or None if it exited with a report."""
    number = reply.get("signal")
    if reply.get("output_bytes", 0) >= limits.output_bytes or number == signal.SIGXFSZ:
        return Failure("output", f"it printed {limits.output_bytes:,} bytes or more, the limit")
    if reply.get("timed_out") or number == signal.SIGXCPU:
        return Failure("timeout", f"no answer within {seconds:g} s")
    if reply.get("report_too_big"):
        return Failure("error", f"its report was larger than {limits.report_bytes:,} bytes")
    if number:
        return Failure("crash", f"the process was killed by {_signal_name(number)}")
    if not reply.get("report"):
        code = reply.get("exit_code")
        return Failure("crash", f"the process exited before reporting{f' (exit code {code})' if code else ''}:"
                                " sys.exit or os._exit?")
    return None


def _report_outcome(report: dict[str, Any] | None) -> Outcome:
    if report is None:
        return Failure("error", "the worker's report was not valid JSON")
    if set(report) == {"observation"} and isinstance(report["observation"], dict):
        return Observation(report["observation"])
    if set(report) == {"raised", "message"} and all(isinstance(report[key], str) for key in report):
        if report["raised"] == SLOW_IMPORT:  # the worker's own word that its imports ran out of time
            return Failure("timeout", _detail(report["message"]))
        kind = {"MemoryError": "memory", "NotImplementedError": "not_run"}.get(report["raised"], "error")
        message = f"{report['raised'][:100]}: {report['message']}" if report["message"] else report["raised"][:100]
        return Failure(kind, _detail(message))
    if set(report) == {"setup_failed"}:
        return Failure("grader", _detail(str(report["setup_failed"])))
    if set(report) == {"unreadable"}:
        return Failure("error", f"the task's results could not be sent ({str(report['unreadable'])[:100]})")
    return Failure("error", "the worker's report was not in the grader's format")


def _parse(text: str | None) -> dict[str, Any] | None:
    try:
        report = json.loads(text or "null")
    except (ValueError, RecursionError):  # garbage, or JSON nested deep enough to break the parser
        return None
    return report if isinstance(report, dict) else None


def _detail(text: str) -> str:
    text = " ".join(text.split())  # one line
    return text if len(text) <= DETAIL_CHARS else text[: DETAIL_CHARS - 1] + "…"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


__all__ = ["DEFAULT_LIMITS", "Failure", "ImportFailure", "Limits", "Observation", "Outcome", "Sandbox", "SandboxError",
           "outcome_of"]
