"""A class's hand-ins as courses collect them: `find_handins(folder)`, one per student.

    CLASS/alice/micrograd/engine.py ...        a folder per student (the package or loose modules)
    CLASS/alice/repo-main/micrograd/...        ... a level or two deeper (GitHub's "Download ZIP")
    CLASS/bob.ipynb                            a notebook per student
    CLASS/cy.zip                               a zip per student (read in memory, never unpacked)
    CLASS/dee_late_123_456_engine.py           Canvas's download: <name>[_late]_<id>_<id>_<file>
    CLASS/van_rossum_guido_12_34_lab.zip       ... whose name part may hold "_"
    submitted/eve/micrograd_lab/timestamp.txt  nbgrader's tree (CLASS is `submitted/` or the course)

Every hand-in is read by reader.py, under one budget per student, into the `Submission` the
graders grade: nothing of it is written to disk, no link is followed. A hand-in that cannot be
graded is still a hand-in: `problem` says what it is ("empty", "unreadable: not a notebook",
"unreadable: the zip is password-protected", "no micrograd files"), and the gradebook shows it.
Its student's name is made safe to show and to be a folder of OUT: printable, at most
MAX_STUDENT_CHARS, never the name of a file the kit writes there.

When it was handed in comes from the collector, never from the student's own files:

    nbgrader     submitted/<student>/<assignment>/timestamp.txt, which nbgrader writes
    any layout   CLASS/<student>.timestamp.txt, written by the instructor or the GitHub workflow
    Canvas       its late mark (from the file names) decides lateness; the time is the sidecar's
    otherwise    the files' modification times, flagged in the row: nothing recorded the time

A timestamp.txt among the student's own files is ignored, and flagged when it disagrees.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import unicodedata
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from ..grading.submission import (
    MAX_MODULE_BYTES,
    MAX_NOTEBOOK_BYTES,
    PACKAGE,
    Submission,
    folder_sources,
    notebook_sources,
    read_regular,
)
from ..reference.solution import MODULES
from .reader import ZIP_ERRORS, Budget, Node, Tree, Unreadable, disk_tree, open_zip, zip_tree

TIMESTAMP = "timestamp.txt"
TIMESTAMP_BYTES = 100  # a time fits in its first line; the rest of the file is never read
SIDECAR = ".timestamp.txt"  # CLASS/<student>.timestamp.txt: the collector's time for that student
# nbgrader's folder of collected work: submitted/<student>/<assignment>/
NBGRADER_SUBMITTED = "submitted"
DEPTH = 2  # how far below a student's folder the package may sit (repo-main/micrograd/ is 1)
DISAGREEMENT_SECONDS = 60  # a student's own timestamp.txt this far from the collector's is flagged
MAX_STUDENT_CHARS = 100  # a longer name is cut, with a hash of the whole to keep it apart
# what grade-all, merge and the exports write at the top of OUT: no student's folder may take these
# names
KIT_OUTPUTS = frozenset({
    "gradebook.csv", "summary.txt", "index.html", "canvas.csv", "canvas-unmatched.csv",
    "regrade.csv", "style.css", "sort.js", "dashboard.png", "results.json"
})
FILE_DATES = "submission time from the files' modification times: nothing the collector recorded"
# Canvas: name[_late]_<user id>_<submission id>_<file>; the name part may hold "_", so the first ids
# win
CANVAS_NAME = re.compile(
    r"^(?P<student>.+?)(?P<late>_late)?_(?P<user>\d+)_(?P<submission>\d+)_(?P<file>.+)$",
    re.IGNORECASE | re.DOTALL)
# "-1" before the suffix of a file uploaded again
CANVAS_RESUBMISSION = re.compile(r"-(\d+)(?=\.\w+$)")
KINDS = {
    "folder": ("folder", "folders"),
    "notebook": ("notebook", "notebooks"),
    "zip": ("zip", "zips"),
    "canvas": ("from Canvas", ) * 2,
    "nbgrader": ("from nbgrader", ) * 2,
    "file": ("loose file", "loose files"),
    "link": ("link", "links")
}
# a hand-in's, not the run's
UNREADABLE = (Unreadable, OSError, ValueError, RecursionError, MemoryError, *ZIP_ERRORS)


@dataclass(frozen=True)
class HandIn:
    """One student's hand-in: what to grade, or why there is nothing to grade, and when it came."""

    student: str
    kind: str  # a key of KINDS: how it was collected
    # on disk, where it was found (the folder or notebook; the zip); None for Canvas's files
    path: Path | None
    problem: str | None = None  # "empty", "unreadable: not a notebook", "no micrograd files"
    submitted: datetime | None = None
    # the collector's own word (Canvas's "late"); None: it says nothing
    late_mark: bool | None = None
    # a malformed collector time, a time from file dates, its own timestamp.txt
    time_flags: tuple[str, ...] = ()
    content: str = ""  # a hash of what the grader reads: a changed resubmission has another
    canvas_user_id: str | None = None  # Canvas's user id, from its bulk download's file names
    # what the graders grade; None with a problem
    submission: Submission | None = field(default=None, repr=False)


def find_handins(folder: Path, skip: Path | Sequence[Path] | None = None) -> list[HandIn]:
    """Every student's hand-in in `folder`, in name order; `skip` (the results' folder, or several)
    is none."""
    if not folder.is_dir():
        raise NotADirectoryError(
            f"{folder} is not a folder: pass the folder that holds one hand-in per student")
    nbgrader = _nbgrader_folder(folder)
    entries = _entries(nbgrader or folder, skip)
    canvas = [entry for entry in entries if CANVAS_NAME.match(entry.name) and _is_regular(entry)]
    handins = [_guarded(entry.name, "nbgrader" if nbgrader else _kind(entry),
                        lambda entry=entry: _nbgrader_handin(entry) if nbgrader else _handin(entry))
               for entry in entries if entry not in canvas and _is_handin(entry)]
    handins += _canvas_handins(canvas, folder)
    return _unique(sorted(handins, key=lambda handin: handin.student.casefold()))


def describe(handins: list[HandIn]) -> str:
    """"60 students: 48 folders, 10 notebooks, 2 zips", and how many cannot be graded."""
    counts = {kind: sum(handin.kind == kind for handin in handins) for kind in KINDS}
    kinds = ", ".join(f"{count} {KINDS[kind][count > 1]}" for kind, count in counts.items()
                      if count)
    problems = sum(handin.problem is not None for handin in handins)
    return (f"{len(handins)} students" + (f": {kinds}" if kinds else "") +
            (f"; {problems} cannot be graded (empty or unreadable: see the gradebook)"
             if problems else ""))


def student_id(name: str) -> str:
    """A file name made a student's name: undecodable bytes and control characters shown as U+FFFD,
    at most MAX_STUDENT_CHARS (a hash of the whole keeps two long names apart), never a file of the
    kit's."""
    shown = os.fsencode(name).decode("utf-8", "replace")
    shown = "".join("\ufffd" if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") else char
                    for char in shown)
    if len(shown) > MAX_STUDENT_CHARS:
        shown = shown[:MAX_STUDENT_CHARS - 9] + "~" + hashlib.sha256(
            os.fsencode(name)).hexdigest()[:8]
    return f"{shown} (hand-in)" if shown.casefold() in KIT_OUTPUTS else shown


# ---- where the hand-ins are ------------------------------------------------------------------

def _nbgrader_folder(folder: Path) -> Path | None:
    """nbgrader's submitted/ folder, given it or the course folder that holds it."""
    if folder.name == NBGRADER_SUBMITTED:
        return folder
    course = (folder / "nbgrader_config.py").is_file() or (folder / "gradebook.db").is_file()
    return folder / NBGRADER_SUBMITTED if course and (folder /
                                                      NBGRADER_SUBMITTED).is_dir() else None


def _entries(folder: Path, skip: Path | Sequence[Path] | None) -> list[Path]:
    skips = [skip] if isinstance(skip, Path) else list(skip or [])
    skipped = {_identity(path) for path in skips} - {None}
    return [entry for entry in sorted(folder.iterdir(), key=lambda path: path.name)
            if not entry.name.startswith(".") and _identity(entry) not in skipped]


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def _is_handin(entry: Path) -> bool:
    """Folders, notebooks, zips, loose .py files and links; a notes.txt or a sidecar time is no
    student's."""
    return entry.is_symlink() or _is_dir(entry) or entry.suffix in (".ipynb", ".zip", ".py")


def _is_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _kind(entry: Path) -> str:
    if entry.is_symlink():
        return "link"
    return "folder" if _is_dir(entry) else {
        ".ipynb": "notebook",
        ".zip": "zip"
    }.get(entry.suffix, "file")


def _stem(entry: Path) -> str:
    """The student a class folder's entry is: alice/, alice.ipynb, alice.zip, alice.py."""
    return entry.stem if entry.suffix in (".ipynb", ".zip", ".py") else entry.name


def _guarded(name: str, kind: str, read: Callable[[], HandIn]) -> HandIn:
    """`read()`, or that student's row saying why it could not be read: one hand-in never stops the
    run."""
    try:
        return read()
    except UNREADABLE as error:
        why = (
            str(error)
            if isinstance(error, Unreadable)
            else (
                f"{error.strerror} ({type(error).__name__})"
                if isinstance(error, OSError) and error.strerror
                else type(error).__name__
            )
        )
        student = _stem(Path(name)) if kind != "nbgrader" else name
        return HandIn(student_id(student), kind, None, f"unreadable: {why}")


def _handin(entry: Path) -> HandIn:
    kind = _kind(entry)
    student = _stem(entry)
    budget = Budget()
    if entry.is_symlink():
        raise Unreadable("a symlink, which the grader never follows")
    if kind == "file":
        raise Unreadable(f"a loose {entry.suffix} file, not a folder, notebook or zip")
    with ExitStack() as stack:
        if kind == "folder":
            tree = disk_tree(entry, budget)
        elif kind == "zip":
            tree = zip_tree(stack.enter_context(open_zip(entry)), budget)
        else:
            tree = Tree(budget)
            tree.add(entry.name, Node("file", entry, mtime=os.lstat(entry).st_mtime))
        where, problem = locate(tree) if kind != "notebook" else (entry.name, None)
        handin = _read(student_id(student), kind, tree, where, problem, entry)
    sidecar = entry.parent / (student + SIDECAR)
    if _is_regular(sidecar):
        submitted, flags = _collector_time(sidecar)
    else:
        submitted, flags = _modified(tree, where,
                                     entry if kind != "folder" else None), (FILE_DATES, )
    flags += _own_timestamp_flags(
        tree, where, submitted) if kind in ("folder", "zip") and where is not None else ()
    return replace(handin, submitted=submitted, time_flags=flags)


def _nbgrader_handin(entry: Path) -> HandIn:
    """submitted/<student>/<assignment>/: nbgrader's timestamp.txt there (it writes it on submit)
    says when, and nothing deeper: a timestamp.txt in the student's own folders is theirs.

    The notebook is the hand-in there, as nbgrader grades it, even beside a micrograd/ the course
    handed out with it."""
    if entry.is_symlink() or not _is_dir(entry):
        raise Unreadable("not a folder of nbgrader's")
    tree = disk_tree(entry, Budget())
    notebooks = [
        path for folder in tree.children("") if tree.kind(folder) == "dir"
        for path in tree.children(folder)
        if path.endswith(".ipynb") and _has_module_cells(tree, path)
    ]
    where, problem = (notebooks[0], None) if len(notebooks) == 1 else locate(tree)
    handin = _read(student_id(entry.name), "nbgrader", tree, where, problem, entry)
    parts = PurePosixPath(where).parts if where else ()
    assignment = parts[0] if len(parts) > 1 else None
    stamp = entry / assignment / TIMESTAMP if assignment else None
    if stamp and _is_regular(stamp):
        submitted, flags = _collector_time(stamp)
    else:
        submitted, flags = _modified(tree, where, entry), (FILE_DATES,)
    return replace(handin, submitted=submitted, time_flags=flags)


def locate(tree: Tree) -> tuple[str | None, str | None]:
    """(where to grade, None) in a student's tree: the folder holding micrograd/ or the loose
    modules ("" is the top), or one notebook, at the top or up to DEPTH levels down; else (None,
    what the hand-in is)."""
    level = [""]
    for _ in range(DEPTH + 1):
        found = [hit for folder in level if (hit := _handin_in(tree, folder)) is not None]
        micrograd = [
            hit for hit in found if not hit.endswith(".ipynb") or _has_module_cells(tree, hit)
        ]
        if len(found) == 1 or len(micrograd) == 1:
            return (found if len(found) == 1 else micrograd)[0], None
        if found:
            names = ", ".join(hit or "." for hit in found[:3])
            return None, f"unreadable: several hand-ins in one folder ({student_id(names)})"
        level = [
            child for folder in level for child in tree.children(folder)
            if tree.nodes[child].kind == "dir"
        ]
    return None, "no micrograd files" if tree.holds_files() else "empty"


def _handin_in(tree: Tree, folder: str) -> str | None:
    """`folder` if it holds micrograd/ or a loose module, else its one notebook (or the one with
    module cells)."""
    join = (lambda name: f"{folder}/{name}") if folder else (lambda name: name)
    modules = [f"{PACKAGE}/{module}.py" for module in MODULES] + [f"{m}.py" for m in MODULES]
    if tree.kind(join(PACKAGE)) == "link" or any(tree.kind(join(where)) for where in modules):
        return folder
    notebooks = [
        path for path in tree.children(folder)
        if path.endswith(".ipynb") and tree.kind(path) != "dir"
    ]
    micrograd = [path for path in notebooks if _has_module_cells(tree, path)]
    return notebooks[0] if len(notebooks) == 1 else micrograd[0] if len(micrograd) == 1 else None


def _has_module_cells(tree: Tree, where: str) -> bool:
    """Cheap: the notebook mentions the kit's cell tag at all (which cells are read is
    notebook_sources's job)."""
    try:
        return b'"mgkit"' in tree.read(where, MAX_NOTEBOOK_BYTES)
    except Unreadable:
        return False


def _read(student: str, kind: str, tree: Tree, where: str | None, problem: str | None,
          path: Path) -> HandIn:
    """The hand-in with what the grader will read, and its hash, or the problem that stops it."""
    if where is None:
        return HandIn(student, kind, None, problem)
    if where.endswith(".ipynb"):
        data = tree.read(where, MAX_NOTEBOOK_BYTES)
        sources, notes, unread = notebook_sources(data, PurePosixPath(where).name)
    else:
        prefix = f"{where}/" if where else ""
        sources, notes, unread = folder_sources(
            lambda name: tree.module(prefix + name, MAX_MODULE_BYTES))
    if all(text is None for text in sources.values()):
        empty = _notebook_problem(data) if where.endswith(".ipynb") else \
            f"unreadable: {unread[0]}" if unread else "no micrograd files"
        return HandIn(student, kind, None, empty)
    digest = hashlib.sha256()
    for module, text in sources.items():
        digest.update(f"{module}:{len(text) if text is not None else -1}:".encode() + (text or b""))
    graded = path / where if kind in ("folder",
                                      "nbgrader") and where else path if kind != "canvas" else None
    return HandIn(student, kind, graded, content=digest.hexdigest(),
                  submission=Submission(student, sources, tuple(notes), tuple(unread)))


def _notebook_problem(data: bytes) -> str:
    if not data.strip():
        return "empty"
    try:
        readable = isinstance(json.loads(data)["cells"], list)
    except (ValueError, KeyError, TypeError, RecursionError):
        readable = False
    return (
        "no micrograd cells (none tagged mgkit.module)"
        if readable
        else "unreadable: not a notebook"
    )


def _unique(handins: list[HandIn]) -> list[HandIn]:
    """alice/ and alice.ipynb: both graded, the second under its file's name."""
    seen: set[str] = set()
    unique = []
    for handin in handins:
        name, number = handin.student, 1
        while name.casefold() in seen:
            name = f"{handin.student}.{handin.kind}" + (f"-{number}" if number > 1 else "")
            number += 1
        seen.add(name.casefold())
        unique.append(replace(handin, student=name))
    return unique


# ---- Canvas's files ----------------------------------------------------------------------------

def _canvas_handins(files: list[Path], folder: Path) -> list[HandIn]:
    """Canvas's bulk download: every student's files, put back together, one student per Canvas user
    id."""
    students: dict[tuple[str, str], list[tuple[Path, str, bool]]] = {}
    # the newest upload of a file last: it is the one kept
    for path in sorted(files, key=_canvas_order):
        match = CANVAS_NAME.match(path.name)
        name = CANVAS_RESUBMISSION.sub("", match["file"])
        students.setdefault((match["student"], match["user"]), []).append((path, name,
                                                                           bool(match["late"])))
    return [
        _guarded(student, "canvas",
                 lambda key=(student, user), found=found: _canvas_handin(*key, found, folder))
        for (student, user), found in students.items()
    ]


def _canvas_order(path: Path) -> tuple[int, int]:
    """(submission id, upload number): Canvas names a file uploaded again engine-1.py, then
    engine-2.py."""
    match = CANVAS_NAME.match(path.name)
    again = CANVAS_RESUBMISSION.search(match["file"])
    return int(match["submission"]), int(again[1]) if again else 0


def _canvas_handin(student: str, user: str, files: list[tuple[Path, str, bool]],
                   folder: Path) -> HandIn:
    budget = Budget()
    tree = Tree(budget)
    with ExitStack() as stack:
        for path, name, _ in files:
            if name.endswith(".zip"):
                zip_tree(stack.enter_context(open_zip(path)), budget, tree)
            else:
                budget.entry()
                where = f"{PACKAGE}/{name}" if name in {f"{module}.py"
                                                        for module in MODULES} else name
                tree.add(where, Node("file", path, mtime=os.lstat(path).st_mtime))
        where, problem = locate(tree)
        handin = _read(student_id(student), "canvas", tree, where, problem, folder)
    sidecar = folder / (student + SIDECAR)
    if _is_regular(sidecar):
        submitted, flags = _collector_time(sidecar)
    else:
        submitted = datetime.fromtimestamp(max(os.lstat(path).st_mtime
                                               for path, _, _ in files), UTC)
        flags = (FILE_DATES,)
    return replace(handin, submitted=submitted, time_flags=flags,
                   late_mark=any(late for _, _, late in files), canvas_user_id=user)


# ---- when ------------------------------------------------------------------------------------

def parse_time(text: str, where: str) -> datetime:
    """A time in ISO 8601 or as nbgrader writes it ("2025-03-01 23:59:00.000000 UTC"), in UTC
    (assumed if no zone)."""
    text = text.strip()
    zone = next((suffix for suffix in (" UTC", "Z") if text.endswith(suffix)), None)
    cleaned = text.removesuffix(zone) + "+00:00" if zone else text
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        raise ValueError(
            f"{where}: {text!r} is not a time; write it as 2025-03-01T23:59:00+00:00") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def read_time(stamp: Path) -> datetime:
    """The time on the first line of a timestamp file (a regular file: never a link, a FIFO);
    ValueError if it holds none, OSError if unreadable."""
    data, problem = read_regular(stamp, 1 << 20, str(stamp))
    if problem:
        raise OSError(problem)
    return parse_time(data[:TIMESTAMP_BYTES].decode(errors="replace").split("\n", 1)[0], str(stamp))


def _collector_time(stamp: Path) -> tuple[datetime | None, tuple[str, ...]]:
    """A collector's time, or none and a flag: one malformed file costs its student a flag, nothing
    more."""
    try:
        return read_time(stamp), ()
    except (OSError, ValueError) as error:
        return None, (f"no submission time: {error}",)


def _modified(tree: Tree, where: str | None, path: Path | None) -> datetime | None:
    """The newest modification time of the graded files on disk, else of `path` (a notebook's or a
    zip's own)."""
    prefix = f"{where}/" if where else ""
    graded = [
        prefix + f"{folder}{module}.py" for module in MODULES for folder in (f"{PACKAGE}/", "")
    ]
    times = [node.mtime for name in ([where] if where and where.endswith(".ipynb") else graded)
             if (node := tree.nodes.get(name)) and node.mtime is not None]
    if not times and path is not None:
        times = [os.lstat(path).st_mtime]
    return datetime.fromtimestamp(max(times), UTC) if times else None


def _own_timestamp_flags(tree: Tree, where: str, submitted: datetime | None) -> tuple[str, ...]:
    """A timestamp.txt among the student's own files never sets the time; it is flagged if it
    disagrees."""
    folder = str(PurePosixPath(where).parent) if where.endswith(".ipynb") else where
    stamp = f"{folder}/{TIMESTAMP}" if folder not in ("", ".") else TIMESTAMP
    if tree.kind(stamp) is None:
        return ()
    try:
        first = tree.read(stamp, 1 << 20)[:TIMESTAMP_BYTES].decode(errors="replace").split("\n",
                                                                                           1)[0]
        claimed = parse_time(first, stamp)
    except (Unreadable, ValueError):
        return (f"its own {TIMESTAMP} holds no time (ignored: the time comes from the collection)",)
    if submitted and abs((claimed - submitted).total_seconds()) <= DISAGREEMENT_SECONDS:
        return ()
    return (
        (
            f"its own {TIMESTAMP} says {claimed.isoformat()} (ignored: the time comes from the"
            " collection)"
        ),
    )
