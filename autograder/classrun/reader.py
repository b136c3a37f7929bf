"""The one bounded reader of hand-ins: a student's files as a `Tree`, read under one `Budget`.

Whatever holds a hand-in (a folder, a zip, Canvas's loose files, nbgrader's tree), it is read
here and only here, in memory, never unpacked to disk:

    budget = Budget()                              # per student: entries, bytes, time
    tree = disk_tree(Path("class/alice"), budget)  # or zip_tree(...), or a Tree filled by hand
    tree.read("micrograd/engine.py", cap)          # bytes; Unreadable says why not

Links are recorded, never followed; FIFOs and devices are never opened for reading (only
regular files are read, each through a descriptor opened with O_NOFOLLOW | O_NONBLOCK); a
folder is looked into only as deep as a hand-in can sit (`WALK_DEPTH`); names longer than a
file system allows are skipped. Whatever exceeds the student's budget, or a zip that is
encrypted or corrupt, raises `Unreadable`: that student's row says why, the others are graded.
"""

from __future__ import annotations

import io
import lzma
import os
import stat
import time
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ..grading.submission import read_regular, size_text

# path parts below a hand-in's top that are ever looked at: repo-main/src/micrograd/engine.py
WALK_DEPTH = 4
MAX_ENTRIES = 2000  # files and folders per student, all of their containers together
MAX_BYTES = 128 * 2**20  # bytes read per student (zips: unpacked), all of their files together
MAX_ARCHIVE_BYTES = 128 * 2**20  # a zip file itself
MAX_NAME_BYTES = 255  # one name, as a file system allows it
MAX_PATH_CHARS = 1024  # a member's whole path in a zip
READ_SECONDS = 30.0  # a student's reading, which runs outside every sandbox
CHUNK = 1 << 16
# never a hand-in's home
IGNORED_FOLDERS = {"__MACOSX", "__pycache__", "mgkit_checks", "node_modules"}
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, NotImplementedError,
              ValueError, RuntimeError
              )  # RuntimeError: zipfile's word for a member that needs a password


class Unreadable(Exception):
    """A hand-in that cannot be read, in words for its row: "the zip is password-protected"."""


@dataclass
class Budget:
    """What one student's reading may take: entries, bytes, seconds."""

    entries: int = 0
    bytes: int = 0
    deadline: float = field(default_factory=lambda: time.monotonic() + READ_SECONDS)

    def entry(self) -> None:
        self.entries += 1
        if self.entries > MAX_ENTRIES:
            raise Unreadable(f"more than {MAX_ENTRIES} files and folders")
        self.tick()

    def take(self, count: int) -> None:
        self.bytes += count
        if self.bytes > MAX_BYTES:
            raise Unreadable(f"more than {size_text(MAX_BYTES)} of files in all")
        self.tick()

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise Unreadable(f"reading it took more than {READ_SECONDS:g} s")


@dataclass
class Node:
    """One entry of a hand-in: a "file", "dir", "link" or "other" (a FIFO, a device, a socket)."""

    kind: str
    path: Path | None = None  # on disk
    member: zipfile.ZipInfo | None = None  # in a zip
    archive: zipfile.ZipFile | None = None
    mtime: float | None = None  # on disk: its modification time (the student's, or an unzip's)


class Tree:
    """A hand-in's entries by relative POSIX path ("micrograd/engine.py"), read under its student's
    budget."""

    def __init__(self, budget: Budget):
        self.budget = budget
        self.nodes: dict[str, Node] = {}
        self.deeper = False  # entries below WALK_DEPTH exist (never looked at)
        self._read: dict[str, bytes] = {}

    def add(self, where: str, node: Node) -> None:
        """Record `node` at `where`, and the folders above it."""
        parts = PurePosixPath(where).parts
        for depth in range(1, len(parts)):
            self.nodes.setdefault("/".join(parts[:depth]), Node("dir"))
        self.nodes[where] = node

    def kind(self, where: str) -> str | None:
        """What is at `where`: "link" if any folder on the way is a link; None if nothing."""
        parts = PurePosixPath(where).parts
        for depth in range(1, len(parts)):
            above = self.nodes.get("/".join(parts[:depth]))
            if above is not None and above.kind != "dir":
                return "link" if above.kind == "link" else None
        node = self.nodes.get(where)
        return node.kind if node else None

    def children(self, folder: str) -> list[str]:
        """The paths directly in `folder` ("" is the top), in name order."""
        depth = len(PurePosixPath(folder).parts) + 1
        prefix = f"{folder}/" if folder else ""
        return sorted(path for path in self.nodes
                      if path.startswith(prefix) and path.count("/") + 1 == depth)

    def holds_files(self) -> bool:
        return self.deeper or any(node.kind != "dir" for node in self.nodes.values())

    def read(self, where: str, cap: int) -> bytes:
        """At most `cap` bytes of the regular file at `where`; Unreadable if it is larger or
        anything else."""
        kind = self.kind(where)
        if kind == "link":
            raise Unreadable(
                f"{where} is reached through a symlink, which the grader never follows")
        if kind != "file":
            raise Unreadable(f"{where} is not a regular file" if kind else f"{where} is missing")
        if where not in self._read:
            node = self.nodes[where]
            if node.member:
                data = _zip_read(node, cap, self.budget)
            else:
                data = _disk_read(node, cap, where)
            if len(data) > cap:
                raise Unreadable(f"{where} is larger than {size_text(cap)}")
            self.budget.take(len(data))
            self._read[where] = data
        return self._read[where]

    def module(self, where: str, cap: int) -> tuple[bytes | None, str | None]:
        """submission.folder_sources's reader: (bytes, None), (None, None) if absent, (None, why) if
        unreadable."""
        if self.kind(where) is None:
            return None, None
        try:
            return self.read(where, cap), None
        except Unreadable as why:
            return None, str(why)


def _disk_read(node: Node, cap: int, where: str) -> bytes:
    data, problem = read_regular(node.path, cap, where)
    if problem:
        raise Unreadable(problem)
    return data


def _zip_read(node: Node, cap: int, budget: Budget) -> bytes:
    if node.member.flag_bits & 0x1:
        raise Unreadable("the zip is password-protected: ask for it again without a password")
    chunks, size = [], 0
    try:
        with node.archive.open(node.member) as source:
            while size <= cap and (chunk := source.read(CHUNK)):
                chunks.append(chunk)
                size += len(chunk)
                budget.tick()
    except ZIP_ERRORS as error:
        raise Unreadable(
            f"a corrupt zip ({type(error).__name__} in {node.member.filename!r})") from None
    return b"".join(chunks)


# ---- trees of a folder, and of a zip ---------------------------------------------------------

def disk_tree(root: Path, budget: Budget, tree: Tree | None = None, under: str = "") -> Tree:
    """The entries of the folder `root` down to WALK_DEPTH, links and special files recorded as
    such."""
    tree = tree or Tree(budget)
    level = [(root, under)]
    for depth in range(WALK_DEPTH):
        below = []
        for folder, where in level:
            for entry in _scan(folder):
                budget.entry()
                path = f"{where}/{entry.name}" if where else entry.name
                node = _disk_node(entry)
                if node.kind == "dir" and entry.name in IGNORED_FOLDERS:
                    continue
                tree.add(path, node)
                if node.kind == "dir":
                    below.append((Path(entry.path), path))
        if depth == WALK_DEPTH - 1:
            tree.deeper = tree.deeper or bool(below)
        level = below
    return tree


def _scan(folder: Path) -> list[os.DirEntry]:
    try:
        with os.scandir(folder) as entries:
            return sorted((entry for entry in entries if not entry.name.startswith(".")),
                          key=lambda entry: entry.name)
    except OSError as error:
        raise Unreadable(f"a folder could not be read ({error.strerror})") from None


def _disk_node(entry: os.DirEntry) -> Node:
    info = entry.stat(follow_symlinks=False)
    kind = "link" if stat.S_ISLNK(info.st_mode) else "dir" if stat.S_ISDIR(info.st_mode) else \
        "file" if stat.S_ISREG(info.st_mode) else "other"
    return Node(kind, Path(entry.path), mtime=info.st_mtime)


def open_zip(archive: Path) -> zipfile.ZipFile:
    """The zip at `archive`, opened without following a link and only if it is a regular file of
    sane size."""
    data, problem = read_regular(archive, MAX_ARCHIVE_BYTES, archive.name)
    if problem:
        raise Unreadable(problem)
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except ZIP_ERRORS as error:
        raise Unreadable(f"not a zip ({type(error).__name__})") from None


def zip_tree(zipped: zipfile.ZipFile, budget: Budget, tree: Tree | None = None) -> Tree:
    """The members of `zipped` at safe paths down to WALK_DEPTH: links recorded, never a path out of
    the zip."""
    tree = tree or Tree(budget)
    for member in zipped.infolist():
        budget.entry()
        parts = _safe_parts(member.filename)
        if parts is None:
            tree.deeper |= len(member.filename) > MAX_PATH_CHARS  # a file, too deep to be looked at
            continue
        if len(parts) > WALK_DEPTH:
            tree.deeper = True
            continue
        if any(part.startswith(".") or part in IGNORED_FOLDERS for part in parts[:-1]):
            continue
        mode = stat.S_IFMT(member.external_attr >> 16)
        kind = "dir" if member.is_dir() else "link" if mode == stat.S_IFLNK else \
            "file" if mode in (0, stat.S_IFREG) else "other"  # no type recorded: a plain file
        tree.add("/".join(parts), Node(kind, member=member, archive=zipped))
    return tree


def _safe_parts(name: str) -> list[str] | None:
    """A member's path parts, or None for one that is absolute, climbs out, or is too long to be a
    name."""
    name = name.replace("\\", "/")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if (
        not parts
        or name.startswith("/")
        or ".." in parts
        or ":" in parts[0]
        or len(name) > MAX_PATH_CHARS
        or any(len(part.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES for part in parts)
    ):
        return None
    return parts
