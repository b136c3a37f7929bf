"""The sandbox: a named entry point runs in forked workers, under limits; the parent gets plain
facts.

    with Sandbox("autograder.sandboxed.entry:run") as sandbox:
        facts = sandbox.run(folder, {"task": "mul_backward", ...}, seconds=5.0)   # Facts

Three processes, three levels of trust:
- the parent (this module, in the `mgkit` process) sends a JSON request and gets back how the
  worker ended: its exit, signal, whether it timed out, how much it printed, its report's raw
  text. What those facts mean (a verdict, a failure) is the caller's to decide (grading/worker.py);
- the zygote (zygote.py, a clean `python -I`) has numpy and the entry's module imported, never
  student code, and forks one worker per request;
- the worker calls `entry(args, imported)` in the student's private folder and writes what it
  returns as JSON to a pipe. It is never trusted: its report is read with a size cap and handed
  back unparsed. (`imported()` is the entry's word that its imports are done: the facts say
  whether the worker got that far.)

The sandbox imports nothing of the checks or the tasks: they reach the worker only through the
entry's module, which the zygote imports by name.

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
from typing import Any

from .zygote import OPTIONAL

# argv[1] is the folder holding `autograder`; the zygote drops it from sys.path once booted
ZYGOTE_BOOT = ("import sys; sys.path.insert(0, sys.argv[1]); "
               "from autograder.sandbox import zygote; zygote.main(sys.argv[1:])")
STARTUP_SECONDS = 60.0  # importing numpy on a cold disk can be slow; a healthy start takes ~0.1 s
GRACE_SECONDS = 5.0  # what the zygote may need beyond a task's deadline to kill and reap
# Numerical libraries must not start thread pools in the zygote: a forked copy would inherit
# locks held by threads that no longer exist.
ZYGOTE_ENV = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "LC_ALL": "C.UTF-8",
    "PATH": "/usr/bin:/bin",
    "HOME": "/nonexistent",
    "MPLBACKEND": "Agg"
}


@dataclass(frozen=True)
class Limits:
    """What one task's worker may use."""

    # wall clock, from fork to report, imports included; None: each run's own
    seconds: float | None = None
    memory_mb: int = 1024  # address space beyond what the zygote already maps (numpy and all)
    output_bytes: int = 1 << 20  # stdout and stderr together; a flood past this fails the task
    report_bytes: int = 4 << 20  # the JSON report; the checks' reports are a few kilobytes


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Facts:
    """How one worker ended, as the zygote saw it from outside: nothing here is the worker's word
    but `report`."""

    exit_code: int | None = None  # None when a signal ended it
    signal: int | None = None
    timed_out: bool = False  # it ran into its wall-clock deadline
    # what it wrote to its report pipe, as text (None: nothing, or cut off)
    report: str | None = None
    report_too_big: bool = False
    imported: bool = False  # the entry said its imports were done before the worker ended
    output_bytes: int = 0  # what it printed, stdout and stderr together

    @classmethod
    def from_reply(cls, reply: dict[str, Any]) -> Facts:
        return cls(**{name: reply[name] for name in cls.__dataclass_fields__ if name in reply})


class SandboxError(RuntimeError):
    """The sandbox itself cannot run (the kit is broken): nothing can be run in it."""


class WorkerLost(SandboxError):
    """The zygote died or hung while one request ran: that request has no facts; the next starts
    afresh."""


@dataclass(frozen=True)
class Entry:
    """What a worker runs: `function` of `module`, the module loaded from `file` when it is not on
    the path."""

    module: str
    function: str
    file: str | None = None

    @classmethod
    def named(cls, spec: str) -> Entry:
        """"package.module:function", or "/path/to/module.py:function" (a test's fake beside the
        tests)."""
        where, _, function = spec.rpartition(":")
        if not where or not function:
            raise ValueError(f"an entry point is 'module:function', not {spec!r}")
        if where.endswith(".py"):
            return cls(Path(where).stem, function, str(Path(where).resolve()))
        return cls(where, function)


class Sandbox:
    """One zygote, started on first use (or by `start`), restarted if it dies; a context manager.

    `entry` names what each worker runs ("module:function"): the zygote imports it by name, so
    the parent need not import it at all. `env` is added to the zygote's environment.
    """

    def __init__(self, entry: str, limits: Limits = DEFAULT_LIMITS, isolate: bool = True,
                 hide: Sequence[Path] = (), user_namespace: bool | None = None,
                 layers: Sequence[str] = OPTIONAL, env: dict[str, str] | None = None):
        self.entry = Entry.named(entry)
        self.env = dict(env or {})
        # without root, the zygote makes its own user and PID namespaces where the machine allows
        self.user_namespace = os.geteuid() != 0 if user_namespace is None else user_namespace
        # beside the kit: e.g. other students' work
        self.hide = tuple(str(Path(path).resolve()) for path in hide)
        self.limits = limits
        # the optional layers to try (the machine decides which hold); isolate=False: none, only
        # the portable mechanisms, as fewer layers show what the others hold alone
        unknown = set(layers) - set(OPTIONAL)
        if unknown:
            raise ValueError(
                f"no such sandbox layer: {', '.join(sorted(unknown))} (known:"
                f" {', '.join(OPTIONAL)})"
            )
        self.layers = tuple(layers) if isolate else ()
        self.isolation: tuple[str, ...] = ()
        self._zygote: subprocess.Popen | None = None
        self._ready = False
        self._buffer = b""
        self._worker: int | None = None

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def start(self) -> None:
        """Boot the zygote without waiting for it: the first `run` waits."""
        if self._zygote is not None:
            return
        kit_path = str(Path(__file__).resolve().parents[2])  # the folder that holds `autograder`
        config = {"entry": asdict(self.entry), "limits": asdict(self.limits), "layers": self.layers,
                  "hide": list(self.hide), "user_namespace": self.user_namespace,
                  "parent": os.getpid()}  # the zygote dies with this process
        self._zygote = subprocess.Popen(
            [sys.executable, "-I", "-c", ZYGOTE_BOOT, kit_path, json.dumps(config)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd="/",
            env={**ZYGOTE_ENV, **self.env, "MPLCONFIGDIR": _matplotlib_cache()},
            start_new_session=True,  # its own process group: close() kills it and nothing else
        )
        self._ready = False

    def run(self, folder: Path, args: dict[str, Any], seconds: float) -> Facts:
        """Run `entry(args, imported)` in a worker on the private folder `folder`, for at most
        `seconds`.

        WorkerLost if the zygote died or hung meanwhile (it is started afresh for the next run).
        """
        self._await_ready()
        try:
            request = {"folder": str(folder), "seconds": seconds, "args": args}
            self._zygote.stdin.write(json.dumps(request).encode() + b"\n")
            self._zygote.stdin.flush()
            # None: the zygote's death kills it
            self._worker = self._receive(STARTUP_SECONDS).get("started")
            reply = self._receive(seconds + GRACE_SECONDS)
        # the zygote died or hung: start afresh
        except (OSError, TimeoutError, ValueError) as error:
            self.close()
            raise WorkerLost(f"the grader's worker process failed ({error})") from error
        self._worker = None
        return Facts.from_reply(reply)

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
    list: built once per machine, so that `import matplotlib.pyplot` takes a fraction of a
    second."""
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


__all__ = ["DEFAULT_LIMITS", "Entry", "Facts", "Limits", "Sandbox", "SandboxError", "WorkerLost"]
