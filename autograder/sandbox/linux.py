"""The few Linux calls the sandbox needs beyond the os module, through ctypes.

Each returns quietly or raises OSError, so the zygote can try a mechanism and fall back when the
machine does not allow it (an unprivileged user, a container that forbids namespaces).
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import resource
import sys
from dataclasses import dataclass

PR_SET_PDEATHSIG = 1
PR_CAPBSET_READ, PR_CAPBSET_DROP = 23, 24
PR_SET_SECCOMP = 22
PR_SET_CHILD_SUBREAPER = 36  # orphaned descendants come to us instead of to init
PR_SET_NO_NEW_PRIVS = 38  # execve can never gain privileges (setuid binaries, file capabilities)
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWNET, CLONE_NEWPID = (
    0x00020000,
    0x10000000,
    0x40000000,
    0x20000000,
)
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x1, 0x2, 0x4, 0x8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 0x20, 0x1000, 0x4000, 0x40000
# the same number on every architecture (added after the tables were unified)
SYS_MOUNT_SETATTR = 442
MOUNT_ATTR_RDONLY, AT_RECURSIVE, AT_FDCWD = 0x1, 0x8000, -100
DEVICES = ("null", "zero", "random", "urandom")  # all of /dev a worker gets: no disks, no terminals

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [
    ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p
]
_libc.prctl.argtypes = [
    ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong
]


def _check(result: int, what: str) -> None:
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")


def prctl(option: int, value: int, address: int = 0) -> None:
    _check(_libc.prctl(option, value, address, 0, 0), f"prctl({option})")


def become_subreaper() -> None:
    """Orphans among our descendants (a double fork, setsid) are re-parented to us, not to init."""
    prctl(PR_SET_CHILD_SUBREAPER, 1)


def forbid_new_privileges() -> None:
    prctl(PR_SET_NO_NEW_PRIVS, 1)


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare")


def setns(fd: int, nstype: int) -> None:
    _check(_libc.setns(fd, nstype), "setns")


def enter_user_namespace() -> None:
    """Become root of a new user namespace, as this same user outside it (no privilege needed).

    Inside it we may make the namespaces and mounts the layers use; outside, we are who we were.
    The process must have a single thread.
    """
    uid, gid = os.geteuid(), os.getegid()
    unshare(CLONE_NEWUSER)
    for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"), ("gid_map", f"0 {gid} 1")):
        with open(f"/proc/self/{name}", "w") as file:
            file.write(text)


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


# ---- the filesystem a worker sees ----------------------------------------------------------


def mount(source: str | None, target: str, fstype: str | None, flags: int,
          data: str | None = None) -> None:
    encode = lambda text: text.encode() if text is not None else None  # noqa: E731
    _check(_libc.mount(encode(source), encode(target), encode(fstype), flags, encode(data)),
           f"mount {target}")


class _MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


@dataclass(frozen=True)
class Hiding:
    """What a worker's mount namespace covers and binds back, worked out once per zygote
    (plan_hiding): each worker then only mounts."""

    covers: tuple[str, ...] = ()  # an empty tmpfs over each: the hand-in's neighbours, the kit
    open: frozenset[str] = frozenset()  # the covers that hold something bound back: traversable
    reads: tuple[str, ...] = ()  # what the worker reads from, under /tmp or a cover: bound back
    inner: tuple[str, ...] = ()  # hidden folders inside what is bound back: covered last


def plan_hiding(hidden: list[str], inside: str) -> Hiding:
    """Which of `hidden` to cover, and what to bind back, for a worker whose private folder is at
    `inside` (under the fresh /tmp).

    The fresh /tmp and /dev cover what lay under the old ones, and nothing may cover `inside`, the
    whole filesystem, or a folder the worker reads from (sys.path, the interpreter's prefixes,
    matplotlib's font list): what it reads from inside a cover is bound back instead.
    """
    read_from = set(_real(_read_from()))
    # not an ancestor of `inside` (/, /tmp), nor under the fresh /tmp or /dev, which hide it anyway
    coverable = [path for path in _real(hidden) if path not in read_from
                 and not _within(inside, path) and not _within(path, "/tmp")
                 and not _within(path, "/dev")]
    covers = tuple(_outermost(coverable))
    reads = tuple(path for path in _outermost(read_from)
                  if any(_within(path, cover) for cover in ("/tmp", *covers)))
    inner = tuple(path for path in coverable
                  if path not in covers and any(_within(path, read) for read in reads))
    return Hiding(covers, frozenset(cover for cover in covers
                                    if any(_within(read, cover) for read in reads)), reads, inner)


def confine_filesystem(folder: str, hiding: Hiding, inside: str) -> None:
    """In a new mount namespace: everything read-only, `folder` at `inside`, the hidden folders
    empty.

    1) a private copy of every mount, so nothing here reaches the machine's own;
    2) all of them read-only, in one call (mount_setattr, Linux 5.12);
    3) a /proc that shows only this PID namespace, a fresh small /tmp, a /dev of four devices;
    4) the submission's private folder bound read-only at `inside` (under the new /tmp);
    5) an empty read-only tmpfs over each hidden folder (the kit's sources, other students' work);
    6) what the worker reads from that lay under the old /tmp or under a hidden folder, bound back
       read-only (the interpreter of a virtual environment made in /tmp, a Python installed in the
       home folder that holds the hand-in, matplotlib's font list).
    """
    unshare(CLONE_NEWNS)
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    attr = _MountAttr(MOUNT_ATTR_RDONLY, 0, 0, 0)
    _check(
        _libc.syscall(ctypes.c_long(SYS_MOUNT_SETATTR), ctypes.c_int(AT_FDCWD), b"/",
                      ctypes.c_uint(AT_RECURSIVE), ctypes.byref(attr),
                      ctypes.c_size_t(ctypes.sizeof(attr))), "mount_setattr")
    safe = MS_NOSUID | MS_NODEV | MS_NOEXEC
    try:
        mount("proc", "/proc", "proc", safe | MS_RDONLY)
    # no PID namespace of our own (a user namespace): the machine's, read-only
    except PermissionError:
        pass
    # what /tmp, /dev and the covers will hide, held open to be bound back in
    submission = os.open(folder, os.O_PATH | os.O_DIRECTORY)
    devices = {name: os.open(f"/dev/{name}", os.O_PATH) for name in DEVICES}
    kept = {path: os.open(path, os.O_PATH | os.O_DIRECTORY) for path in hiding.reads}
    mount("tmpfs", "/tmp", "tmpfs", safe, "size=16m,mode=1777")
    os.mkdir(inside)
    _bind(submission, inside, MS_RDONLY | safe)
    mount("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "size=64k,mode=755")
    for name, device in devices.items():
        open(f"/dev/{name}", "w").close()  # the mount point
        _bind(device, f"/dev/{name}", MS_NOSUID | MS_NOEXEC)
    mount(None, "/dev", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC)
    covers = [path for path in hiding.covers if os.path.isdir(path)]  # gone since: nothing to hide
    for path in covers:
        mode = "755" if path in hiding.open else "000"
        mount("tmpfs", path, "tmpfs", safe, f"size=64k,mode={mode}")
    umask = os.umask(0o022)  # the mount points: every user may pass (the "own-user" layer)
    for path, fd in kept.items():
        os.makedirs(path, exist_ok=True)
        _bind(fd, path, MS_RDONLY | MS_NOSUID | MS_NODEV)  # not noexec: C extensions are mapped
    os.umask(umask)
    for path in covers:
        mount(None, path, None, MS_REMOUNT | MS_RDONLY | safe)
    for path in hiding.inner:  # the kit's sources inside the kit the worker imports from
        if os.path.isdir(path):
            mount("tmpfs", path, "tmpfs", safe | MS_RDONLY, "size=4k,mode=000")


def _within(path: str, folder: str) -> bool:
    """Whether the real path `path` is the real path `folder` or lies under it."""
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _real(paths: list[str] | set[str]) -> list[str]:
    return sorted({os.path.realpath(path) for path in paths if os.path.isdir(path)})


def _read_from() -> list[str]:
    """The folders a worker reads from after the fork: where the interpreter imports from
    (sys.path, its prefixes) and matplotlib's font list."""
    return [
        entry for entry in (*sys.path, sys.prefix, sys.base_prefix, os.environ.get("MPLCONFIGDIR"))
        if entry and os.path.isdir(entry)
    ]


def _outermost(paths: list[str] | set[str]) -> list[str]:
    """The real paths of the folders, less any that lies under another."""
    real = _real(paths)
    return [path for index, path in enumerate(real)
            if not any(_within(path, outer) for outer in real[:index])]


def _bind(fd: int, target: str, flags: int) -> None:
    """Bind what the open `fd` refers to at `target`, with `flags` (a bind ignores them:
    remount)."""
    mount(f"/proc/self/fd/{fd}", target, None, MS_BIND)
    mount(None, target, None, MS_BIND | MS_REMOUNT | flags)
    os.close(fd)


# ---- privileges --------------------------------------------------------------------------

class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def become_user(uid: int) -> None:
    """Become `uid` (group `uid`, no supplementary groups): root no longer, every capability gone.

    Files that only root may write (the kit, results, other students' work when root made it)
    are then out of reach, and RLIMIT_NPROC holds. The bounding set goes first, while we may
    still drop it, so that no capability comes back through an execve.
    """
    _drop_bounding_set()
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


def drop_capabilities() -> None:
    """No capability now or after any execve: root in name only, unable to remount or undo a
    limit."""
    _drop_bounding_set()
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3: two 32-bit words per set
    _check(_libc.capset(ctypes.byref(header), (_CapData * 2)()), "capset")


def _drop_bounding_set() -> None:
    last = int(_read("/proc/sys/kernel/cap_last_cap"))
    for capability in range(last + 1):
        # dropping needs CAP_SETPCAP, once only
        if _libc.prctl(PR_CAPBSET_READ, capability, 0, 0, 0) == 1:
            prctl(PR_CAPBSET_DROP, capability)


# A seccomp filter for the worker. It refuses new processes and threads, the one limit root
# cannot be held to with RLIMIT_NPROC, and any signal or tracing aimed at another process (the
# zygote, the grader), which a worker running as the grader's own user could otherwise send.
# Syscall numbers and audit codes per machine:
_SYSCALLS = {
    "x86_64": {
        "arch": 0xC000003E,
        # clone fork vfork clone3 ptrace
        "refused": (56, 57, 58, 435, 101, 310, 311, 424, 434, 438),
        # process_vm_readv process_vm_writev pidfd_send_signal pidfd_open pidfd_getfd
        # kill tkill tgkill rt_sigqueueinfo rt_tgsigqueueinfo
        "only_at_itself": (62, 200, 234, 129, 297),
    },
    "aarch64": {
        "arch": 0xC00000B7,
        "refused": (220, 435, 117, 270, 271, 424, 434, 438),
        "only_at_itself": (129, 130, 131, 138, 240),
    },
}
_X32_BIT = 0x40000000  # x86_64's x32 numbering: a second way to call fork, refused as a whole


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8),
                ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def can_filter_syscalls() -> bool:
    return platform.machine() in _SYSCALLS


def filter_syscalls() -> None:
    """Install the filter: from now on the refused calls fail with EPERM."""
    table = _SYSCALLS[platform.machine()]
    # BPF_LD|W|ABS, BPF_JMP|JEQ|K, BPF_JMP|JGE|K, BPF_RET|K
    load, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    allow, refuse = 0x7FFF0000, 0x00050000 | errno.EPERM  # SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO
    # (op, jump-if-true label, jump-if-false label, k); a label is where a jump lands
    # a foreign ABI: refuse all
    program = [(load, None, None, 4), (jeq, None, "refuse", table["arch"]),
               (load, None, None, 0), (jge, "refuse", None, _X32_BIT)]
    program += [(jeq, "refuse", None, number) for number in table["refused"]]
    program += [(jeq, "itself", None, number) for number in table["only_at_itself"]]
    program += [(ret, None, None, allow),
                # args[0], low word
                "itself", (load, None, None, 16), (jeq, "allow", "refuse", os.getpid()),
                "allow", (ret, None, None, allow),
                "refuse", (ret, None, None, refuse)]
    instructions = _assemble(program)
    filters = (_SockFilter * len(instructions))(*instructions)
    forbid_new_privileges()  # required to install a filter without CAP_SYS_ADMIN
    fprog = _SockFprog(len(instructions), filters)
    prctl(PR_SET_SECCOMP, 2, ctypes.addressof(fprog))  # SECCOMP_MODE_FILTER


def _assemble(program: list) -> list[_SockFilter]:
    """Instructions with labels (strings) turned into classic BPF's relative jumps."""
    labels, index = {}, 0
    for item in program:
        if isinstance(item, str):
            labels[item] = index
        else:
            index += 1
    instructions: list[_SockFilter] = []
    for item in program:
        if isinstance(item, str):
            continue
        op, true, false, k = item
        here = len(instructions) + 1  # jumps count from the next instruction
        instructions.append(
            _SockFilter(op, labels[true] - here if true else 0,
                        labels[false] - here if false else 0, k))
    return instructions


def children() -> list[int]:
    """Our own child processes, alive or zombie; none if /proc shows another PID namespace's
    numbers."""
    pid = os.getpid()
    if not own_proc():
        return []
    try:
        return [int(child) for tid in os.listdir(f"/proc/{pid}/task")
                for child in _read(f"/proc/{pid}/task/{tid}/children").split()]
    except FileNotFoundError:  # a kernel built without CONFIG_PROC_CHILDREN: scan every process
        return [
            int(entry) for entry in os.listdir("/proc")
            if entry.isdigit() and _parent_of(entry) == pid
        ]


def own_proc() -> bool:
    """Whether /proc numbers processes as this PID namespace does."""
    return os.readlink("/proc/self") == str(os.getpid())


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
