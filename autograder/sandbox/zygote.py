"""The zygote, and the worker it forks for each task.

The parent starts one zygote per grading session, with `python -I` (no user site, no PYTHON*
variables, no current folder on the path). The zygote imports numpy and the entry point's module
once (for grading: autograder.sandboxed.entry), never any student code; forking it then gives a
worker with all of that already imported in about a millisecond, instead of a new interpreter per
task. The entry's module may name, in FORBIDDEN_MODULES, what must not be loaded by then, and
have a `boot()` the zygote calls once, before any worker (what it reads then, workers need not).

For each request line on stdin ({"folder", "seconds", "args"}) the zygote
  1) forks a worker: a new session (so its whole process group can be killed), in a fresh PID
     namespace where the machine allows it, with its limits set before any student code runs;
  2) reads the worker's JSON report from a pipe, up to a size cap, until the worker exits or the
     wall-clock deadline passes;
  3) kills the worker's process group with SIGKILL, then every process still below the zygote
     (it is their subreaper, so a double fork or setsid still ends up as its child);
  4) answers on stdout with plain facts: exit status, the report's raw text, bytes printed, and
     whether the worker got past its imports (the entry calls back when it has: a hang or crash
     before that is the import's, and the parent need not run the other tasks that import the same).
The worker calls `entry(args, imported)` and reports what it returns (or what it raised). The
zygote never judges, and knows nothing of what the entry does: the parent decides what the facts
mean.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import json
import math
import os
import resource
import select
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from . import linux

# What student code commonly imports, loaded once here instead of in every worker.
PRELOAD = ("numpy", "math", "random", "numbers", "collections", "dataclasses", "typing",
           "functools", "itertools", "gc", "json", "copy", "operator")
# closed once booted: a worker imports nothing new of them
KIT_PACKAGES = ("autograder", "mgkit_checks")
REPORT_READ_CHUNK = 1 << 16
REPORT_FD = 3  # the worker's end of the report pipe: the only descriptor it keeps beyond stdio
IMPORTED = b"\x06"  # the report's first byte once the task's imports are done (the entry says when)
SWEEP_ROUNDS = 100  # generations of leftover processes killed after a task; one or two in practice
# The optional layers, in the order a worker takes them on: each later one removes the power to
# undo the earlier ones (no capabilities: no remounting; the filter: no new process, no signal out).
LAYERS = ("mount-namespace", "network-namespace", "own-user", "no-capabilities", "syscall-filter")
# what a caller may ask for (Sandbox's `layers`); the machine decides
OPTIONAL = ("pid-namespace", *LAYERS)
# a worker of zygote N runs as user and group OWN_USER_BASE + N: no one else's
OWN_USER_BASE = 1 << 30
INSIDE = "/tmp/submission"  # where a worker in its own mount namespace finds the private folder


@dataclass(frozen=True)
class Setting:
    """How every worker of this zygote is confined."""

    limits: dict[str, Any]
    layers: frozenset[str] = frozenset()  # the optional layers that work on this machine
    # what a worker in its own mount namespace sees as empty, and what is bound back
    hiding: linux.Hiding = linux.Hiding()
    pid_namespaces: linux.PidNamespaces | None = None
    # False once the zygote lives in a PID namespace of its own
    pids_as_parent_sees_them: bool = True
    worker_uid: int = 0  # with "own-user": the user every worker of this zygote becomes


def main(argv: list[str]) -> None:
    """Boot (argv: the kit's import path and a JSON config), then serve requests until stdin
    closes."""
    kit_path, config = argv[0], json.loads(argv[1])
    _die_with(config.get("parent"))
    own_namespaces = bool(config["layers"]) and config["user_namespace"] and _own_namespaces()
    try:
        module, entry = _load_entry(config["entry"])
        # the entry's own start, once, while the kit is readable
        getattr(module, "boot", lambda: None)()
        for name in PRELOAD:
            importlib.import_module(name)
        _build_the_font_list_once()
        _forget_kit(kit_path, getattr(module, "FORBIDDEN_MODULES", ()))
        linux.become_subreaper()
        setting = _setting(config, kit_path, own_namespaces)
    # process boundary: the kit is broken; say so once, the parent fails closed
    except Exception as error:
        _send({"fatal": f"{type(error).__name__}: {error}"})
        return
    pid_namespace = bool(own_namespaces or setting.pid_namespaces)
    isolation = ["user-namespace"] * own_namespaces + ["pid-namespace"] * pid_namespace
    isolation += [name for name in LAYERS if name in setting.layers]
    _send({"ready": True, "isolation": isolation})
    for line in sys.stdin.buffer:
        try:
            reply = _run_task(json.loads(line), entry, setting)
        # process boundary (e.g. fork failed): this task is not graded, the next may be
        except Exception as error:
            reply = {"grader_error": f"{type(error).__name__}: {error}"}
        _send(reply)


def _build_the_font_list_once() -> None:
    """matplotlib's font list, in MPLCONFIGDIR: a worker cannot write it (its filesystem is
    read-only), and without it every `import matplotlib.pyplot` in a worker would spend a second
    building it."""
    folder = os.environ.get("MPLCONFIGDIR")
    if not folder or any(
            Path(folder).glob("fontlist-*.json")) or importlib.util.find_spec("matplotlib") is None:
        return
    importlib.import_module("matplotlib.font_manager")


def _die_with(parent: int | None) -> None:
    """SIGKILL the zygote when the process that started it dies, even in the middle of a task
    (a killed class run leaves nothing behind); exit now if that process is already gone."""
    if parent is None:
        return
    linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)


def _own_namespaces() -> bool:
    """Without root: the zygote continues as process 1 of its own PID namespace, in its own user
    namespace, so its workers can take on the layers too. False if the machine does not allow it.

    (Per-task PID namespaces need setns back into ours, which a user namespace may not do; the
    workers share the zygote's instead: none of them can see or signal a process outside it.)
    """
    try:
        linux.enter_user_namespace()
        linux.unshare(linux.CLONE_NEWPID)
        pid = os.fork()
    except OSError:
        return False
    if pid:  # the process the parent started: wait for the zygote proper and end as it does
        os._exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) & 0xFF)
    linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)  # and the zygote proper ends with it
    try:  # a /proc that numbers processes as the zygote's namespace does, for its sweeps
        linux.unshare(linux.CLONE_NEWNS)
        linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
        linux.mount("proc", "/proc", "proc", linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC)
    except OSError:
        # then the sweeps find nothing to kill: the namespaces and the syscall filter still hold
        pass
    return True


def _send(message: dict[str, Any]) -> None:
    os.write(1, json.dumps(message).encode() + b"\n")


def _load_entry(entry: dict[str, str | None]) -> tuple[ModuleType, Any]:
    """The entry's module and function: by the module's name, unless a file is given that the name
    does not lead to (a test's fake, beside the tests rather than on the path)."""
    name, file = entry["module"], entry["file"]
    if file is None or _origin(name) == file:
        module = importlib.import_module(name)
    else:
        spec = importlib.util.spec_from_file_location(name, file)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return module, getattr(module, entry["function"])


def _origin(name: str) -> str | None:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):  # its parent package is not importable here
        return None
    return spec.origin if spec else None


def _forget_kit(kit_path: str, forbidden: tuple[str, ...]) -> None:
    """Leave the worker an import system that knows only the standard library and site-packages.

    The kit's folder goes (the reference lives beside the autograder package), so do import
    hooks such as an editable install's finder; what the entry needed is already imported.
    `forbidden` (the entry's FORBIDDEN_MODULES) must not be loaded now, and cannot be later.
    """
    loaded = [name for name in forbidden if sys.modules.get(name) is not None]
    if loaded:
        raise RuntimeError(
            f"the entry's module imported {', '.join(loaded)}: keep the reference out of it")
    sys.path[:] = [entry for entry in sys.path if entry != kit_path]
    standard = (importlib.machinery.BuiltinImporter, importlib.machinery.FrozenImporter,
                importlib.machinery.PathFinder)
    sys.meta_path[:] = [finder for finder in sys.meta_path if finder in standard]
    sys.path_importer_cache.pop(kit_path, None)
    for name in forbidden:
        sys.modules[name] = None  # `import autograder.reference.solution` now fails at once
    for name, module in list(sys.modules.items()):
        if name.partition(".")[0] in KIT_PACKAGES and hasattr(module, "__path__"):
            # an imported kit package finds no new submodules: no expect.py, no traversal.py
            module.__path__ = []
    sys.dont_write_bytecode = True  # no __pycache__ in the student's private folder


def _setting(config: dict[str, Any], kit_path: str, own_namespaces: bool) -> Setting:
    """Every optional layer asked for that this machine allows, found once by trying them in a
    throwaway child."""
    wanted = set(config["layers"])
    if not wanted:
        return Setting(config["limits"])
    try:
        pid_namespaces = linux.PidNamespaces() if "pid-namespace" in wanted else None
    except OSError:  # not root, or a container that forbids it: the subreaper sweep still runs
        pid_namespaces = None
    hidden = linux.plan_hiding(list(_hidden(kit_path, config["hide"])), INSIDE)
    uid = OWN_USER_BASE + os.getpid()
    probe = Setting(config["limits"], frozenset(wanted & set(LAYERS)), hidden, pid_namespaces,
                    worker_uid=uid)
    report_r, report_w = os.pipe()
    folder = tempfile.mkdtemp(prefix="mgkit-probe-")  # an empty stand-in for a submission's folder
    pid = _fork(probe)
    if pid == 0:
        os.write(report_w, json.dumps(_take_layers(probe, folder, strict=False)[1]).encode())
        os._exit(0)
    os.close(report_w)
    _reap(pid)
    os.rmdir(folder)
    layers = json.loads(os.read(report_r, 1 << 16) or b"[]")
    os.close(report_r)
    return Setting(config["limits"], frozenset(layers), hidden, pid_namespaces, not own_namespaces,
                   uid)


def _hidden(kit_path: str, extra: list[str]) -> tuple[str, ...]:
    """The kit's folders (the reference, the hidden checks, the git history) and the caller's
    extras; what the worker still imports from inside them is bound back
    (linux.confine_filesystem)."""
    kit = Path(kit_path)
    folders = ([str(path) for path in kit.iterdir()
                if path.is_dir()] if (kit / "solutions").is_dir() else [str(kit / "autograder")])
    return tuple(folder for folder in (*folders, *extra) if os.path.isdir(folder))


# ---- one task ------------------------------------------------------------------------------

def _run_task(request: dict, entry, setting: Setting) -> dict:
    limits = setting.limits
    report_r, report_w = os.pipe()
    output = os.memfd_create("mgkit-output", os.MFD_CLOEXEC)
    if "own-user" in setting.layers:
        _hand_over(request["folder"], setting.worker_uid)
    started = time.monotonic()
    pid = _fork(setting)
    if pid == 0:
        _worker(request, entry, setting, report_w, output)  # never returns
    os.close(report_w)
    # for the parent's last resort
    _send({"started": pid if setting.pids_as_parent_sees_them else None})
    read, timed_out, too_big = _read_report(pid, report_r, started + request["seconds"],
                                            limits["report_bytes"])
    _kill_everything(pid)
    imported = read.startswith(IMPORTED)
    report = read[len(IMPORTED):] if imported else read
    status = _reap(pid)
    reply = {
        "exit_code": status if status is not None and status >= 0 else None,
        "signal": -status if status is not None and status < 0 else None,
        "timed_out": timed_out,
        "report":
        report.decode("utf-8", "replace") if report and not (timed_out or too_big) else None,
        "report_too_big": too_big,
        "imported": imported,
        "output_bytes": os.fstat(output).st_size,
    }
    os.close(report_r)
    os.close(output)
    return reply


def _hand_over(folder: str, uid: int) -> None:
    """The private folder and what it holds become the worker's user's: only it (and root) may read
    them."""
    os.lchown(folder, uid, uid)
    for parent, folders, files in os.walk(folder):
        for name in folders + files:
            os.lchown(os.path.join(parent, name), uid, uid)


def _fork(setting: Setting) -> int:
    """os.fork, the child being process 1 of a fresh PID namespace when the machine allows it."""
    if setting.pid_namespaces:
        setting.pid_namespaces.arm()
    try:
        pid = os.fork()
    except OSError:
        pid = -1
    if pid != 0 and setting.pid_namespaces:  # in the zygote: re-arm for the next task
        setting.pid_namespaces.disarm()
    if pid == -1:
        raise OSError("fork failed")
    return pid


def _read_report(pid: int, report_r: int, deadline: float, cap: int) -> tuple[bytes, bool, bool]:
    """(what was read, timed_out, too_big): read until the worker exits, the deadline passes or the
    cap is hit.

    What was read is kept even when the worker failed: its first byte says whether it got past its
    imports.
    """
    pidfd = os.pidfd_open(pid)
    poller = select.poll()
    poller.register(report_r, select.POLLIN)
    poller.register(pidfd, select.POLLIN)
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return b"".join(chunks), True, False
            for fd, _ in poller.poll(remaining * 1000):
                # the worker exited: take what is left in the pipe, never wait for more
                if fd == pidfd:
                    chunks.append(_drain(report_r, cap - size + 1))
                    report = b"".join(chunks)
                    return report, False, len(report) > cap
                chunk = os.read(report_r, REPORT_READ_CHUNK)
                if not chunk:
                    poller.unregister(report_r)  # closed; keep waiting for the exit itself
                    continue
                size += len(chunk)
                chunks.append(chunk)
                if size > cap:
                    return b"".join(chunks), False, True
    finally:
        os.close(pidfd)


def _drain(fd: int, limit: int) -> bytes:
    os.set_blocking(fd, False)
    chunks, size = [], 0
    while size < limit:
        try:
            chunk = os.read(fd, REPORT_READ_CHUNK)
        except BlockingIOError:  # a grandchild still holds the pipe open: nothing more is coming
            break
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _kill_everything(pid: int) -> None:
    """SIGKILL the worker's process group, then every descendant left.

    Each round kills the zygote's children; their own children then come to it (it is their
    subreaper) for the next round. The rounds are bounded: a fork bomb that outruns them (only
    possible without the syscall filter) is left to the next task's sweep.
    """
    _kill(os.killpg, pid)
    for _ in range(SWEEP_ROUNDS):
        left = [child for child in linux.children() if child != pid]
        if not left:
            break
        for child in left:
            _kill(os.kill, child)
        for child in left:
            _reap(child)


def _kill(kill, pid: int) -> None:
    try:
        kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _reap(pid: int) -> int | None:
    """The exit code (negative: the signal that killed it), None if it was already reaped."""
    try:
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    except ChildProcessError:
        return None


# ---- the worker: everything below runs in the forked child ---------------------------------

def _worker(request: dict, entry, setting: Setting, report_w: int, output: int) -> None:
    """Set the worker up, run the entry on the student's package, write one JSON report, exit."""
    # bound before student code can patch them
    write, dumps, exit_now = os.write, json.dumps, os._exit
    os.dup2(report_w, REPORT_FD)  # the pipe was made before `output`, so this never covers it
    try:
        _confine(request["folder"], setting, output, request["seconds"])
    except BaseException as error:  # noqa: BLE001 - the kit's own failure, reported as such
        write(REPORT_FD, dumps({"setup_failed": f"{type(error).__name__}: {error}"}).encode())
        exit_now(0)

    def imported() -> None:  # the entry calls this once the task's imports are done
        write(REPORT_FD, IMPORTED)

    try:
        report = {"observation": entry(request["args"], imported)}
    except MemoryError:
        report = {"raised": "MemoryError", "message": ""}
    except BaseException as error:  # noqa: BLE001 - SystemExit and KeyboardInterrupt included
        report = {"raised": _type_name(error), "message": _message(error)}
    try:
        payload = dumps(report).encode()
    except MemoryError:
        payload = b'{"raised": "MemoryError", "message": ""}'
    except BaseException as error:  # noqa: BLE001 - e.g. an object that is not JSON
        payload = dumps({"unreadable": _type_name(error)}).encode()
    try:
        while payload:
            payload = payload[write(REPORT_FD, payload):]
    finally:
        exit_now(0)  # no atexit handlers, no __del__, no flushing of the student's buffers


def _confine(folder: str, setting: Setting, output: int, seconds: float) -> None:
    """The worker's setting, fixed before any student code runs."""
    os.setsid()  # a process group of its own, killed as a whole
    linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)  # if the zygote dies, so does the worker
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(output, 1)
    os.dup2(output, 2)
    os.closerange(REPORT_FD + 1, os.sysconf("SC_OPEN_MAX"))
    _set_limits(setting.limits, seconds)
    linux.forbid_new_privileges()
    folder = _take_layers(setting, folder, strict=True)[0]
    linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)  # again: becoming another user cleared it
    os.chdir(folder)
    sys.path.insert(0, folder)


def _take_layers(setting: Setting, folder: str, strict: bool) -> tuple[str, list[str]]:
    """Apply the setting's layers in order: (where the folder now is, the layers applied).

    strict: a layer that fails is the grader's failure; else (the start-up probe) it is skipped.
    """
    applied = []
    for layer in LAYERS:
        if layer not in setting.layers:
            continue
        try:
            if layer == "mount-namespace":
                linux.confine_filesystem(folder, setting.hiding, INSIDE)
                folder = INSIDE
            elif layer == "network-namespace":
                linux.unshare(linux.CLONE_NEWNET)
            elif layer == "own-user":
                # while we may still look
                folders = [entry for entry in sys.path if os.path.isdir(entry)]
                linux.become_user(setting.worker_uid)
                _check_readable(folders)
            elif layer == "no-capabilities":
                linux.drop_capabilities()
            elif linux.can_filter_syscalls():
                linux.filter_syscalls()
            else:
                raise OSError(f"no seccomp filter for {os.uname().machine}")
        except Exception:
            if strict:
                raise
            continue
        applied.append(layer)
    return folder, applied


def _check_readable(folders: list[str]) -> None:
    """PermissionError unless this user can still import from every folder on the path (a Python
    installed in root's home folder cannot be read by anyone else: that layer is not for such a
    machine)."""
    closed = [folder for folder in folders if not os.access(folder, os.R_OK | os.X_OK)]
    if closed:
        raise PermissionError(f"the worker's user cannot read {closed[0]}")


def _set_limits(limits: dict, seconds: float) -> None:
    seconds = math.ceil(seconds)
    memory = linux.virtual_memory_bytes() + limits["memory_mb"] * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    # a backstop: the deadline comes first
    resource.setrlimit(resource.RLIMIT_CPU, (seconds + 1, seconds + 2))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["output_bytes"], limits["output_bytes"]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # no processes, no threads; root is exempt, until the "own-user" layer makes the worker someone
    # else
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))


def _type_name(error: BaseException) -> str:
    name = type(error).__name__
    return name if type(name) is str else "Exception"


def _message(error: BaseException) -> str:
    try:
        text = str(error)
    except BaseException:  # noqa: BLE001 - an exception whose __str__ raises
        return "(its message could not be read)"
    return text[:2000] if type(text) is str else ""
