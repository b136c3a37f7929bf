"""The few Linux calls the sandbox needs beyond the os module, through ctypes.

Each returns quietly or raises OSError, so the zygote can try a mechanism and fall back when the
machine does not allow it (an unprivileged user, a container that forbids namespaces).
"""

from __future__ import annotations

import ctypes
import os
import resource

PR_SET_CHILD_SUBREAPER = 36  # orphaned descendants come to us instead of to init
PR_SET_NO_NEW_PRIVS = 38  # execve can never gain privileges (setuid binaries, file capabilities)
CLONE_NEWPID = 0x20000000

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")


def prctl(option: int, value: int) -> None:
    _check(_libc.prctl(option, ctypes.c_ulong(value), 0, 0, 0), f"prctl({option})")


def become_subreaper() -> None:
    """Orphans among our descendants (a double fork, setsid) are re-parented to us, not to init."""
    prctl(PR_SET_CHILD_SUBREAPER, 1)


def forbid_new_privileges() -> None:
    prctl(PR_SET_NO_NEW_PRIVS, 1)


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare")


def setns(fd: int, nstype: int) -> None:
    _check(_libc.setns(fd, nstype), "setns")


class PidNamespaces:
    """Puts each next child in a fresh PID namespace, whose death takes every process in it along.

    After `unshare(CLONE_NEWPID)` our next fork is process 1 of a new namespace; when it dies, the
    kernel kills every process left in the namespace, setsid or not, and nothing inside can signal
    a process outside. `setns` back to our own namespace re-arms `unshare` for the next task.
    """

    def __init__(self) -> None:
        self._own = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        self.arm()  # fails here, at start-up, on a machine that forbids it
        self.disarm()

    def arm(self) -> None:
        unshare(CLONE_NEWPID)

    def disarm(self) -> None:
        setns(self._own, CLONE_NEWPID)


def children() -> list[int]:
    """Our own child processes, alive or zombie."""
    pid = os.getpid()
    try:
        return [int(child) for tid in os.listdir(f"/proc/{pid}/task")
                for child in _read(f"/proc/{pid}/task/{tid}/children").split()]
    except FileNotFoundError:  # a kernel built without CONFIG_PROC_CHILDREN: scan every process
        return [int(entry) for entry in os.listdir("/proc") if entry.isdigit() and _parent_of(entry) == pid]


def _parent_of(pid: str) -> int | None:
    try:
        stat = _read(f"/proc/{pid}/stat")
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])  # after "pid (comm) state": the parent's pid


def _read(path: str) -> str:
    with open(path) as file:
        return file.read()


def virtual_memory_bytes() -> int:
    """This process's address-space size, which RLIMIT_AS counts."""
    return int(_read("/proc/self/statm").split()[0]) * resource.getpagesize()
