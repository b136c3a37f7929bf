"""A class's hand-ins as courses collect them: `find_handins(folder, scratch)`, one per student.

    CLASS/alice/micrograd/engine.py ...         a folder per student (the package, or the loose modules)
    CLASS/alice/repo-main/micrograd/...         ... one or two levels deeper (GitHub's "Download ZIP")
    CLASS/bob.ipynb                             a notebook per student
    CLASS/cy.zip                                a zip per student (extracted safely into `scratch`)
    CLASS/dee_late_123_456_engine.py            Canvas's bulk download: <name>[_late]_<id>_<id>_<file>
    submitted/eve/micrograd_lab/timestamp.txt   nbgrader's tree (CLASS is `submitted/` or the course)

A hand-in that cannot be graded is still a hand-in: `problem` says what it is ("empty",
"unreadable: not a notebook", "no micrograd files"), and the gradebook shows it.

When it was handed in comes from the collector, never from the student's own files: nbgrader's
timestamp.txt beside the notebook, a `<student>.timestamp.txt` the instructor (or the GitHub
workflow: the last commit's time) wrote beside the hand-in, Canvas's late mark, else the
modification time of what was collected. A timestamp.txt among the student's own files is
ignored, and flagged when it disagrees.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import zipfile
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from .reference import MODULES
from .submission import PACKAGE, SubmissionError, load

TIMESTAMP = "timestamp.txt"
TIMESTAMP_BYTES = 100  # a time fits in its first line; the rest of the file is never read
SIDECAR = ".timestamp.txt"  # CLASS/<student>.timestamp.txt: the collector's time for that student
NBGRADER_SUBMITTED = "submitted"  # nbgrader's folder of collected work: submitted/<student>/<assignment>/
DEPTH = 2  # how far below a student's folder the package may sit (repo-main/micrograd/ is 1)
IGNORED_FOLDERS = {"__MACOSX", "__pycache__", "mgkit_checks", "node_modules"}  # never a hand-in's home
MAX_ZIP_MEMBERS = 2000
MAX_ZIP_BYTES = 128 * 2**20  # everything extracted from one zip; a notebook alone may be 64 MB
DISAGREEMENT_SECONDS = 60  # a student's own timestamp.txt this far from the collector's is flagged
# Canvas: lastfirst[_late]_<user id>_<submission id>_<file>, and "-1" before the suffix of a resubmission
CANVAS_NAME = re.compile(r"^(?P<student>[^_]+?)(?P<late>_late)?_(?P<user>\d+)_(?P<submission>\d+)_(?P<file>.+)$",
                         re.IGNORECASE)
CANVAS_RESUBMISSION = re.compile(r"-(\d+)(?=\.\w+$)")
KINDS = {"folder": ("folder", "folders"), "notebook": ("notebook", "notebooks"), "zip": ("zip", "zips"),
         "canvas": ("from Canvas",) * 2, "nbgrader": ("from nbgrader",) * 2, "file": ("loose file", "loose files")}


@dataclass(frozen=True)
class HandIn:
    """One student's hand-in: what to grade, or why there is nothing to grade, and when it came."""

    student: str
    kind: str  # a key of KINDS: how it was collected
    path: Path | None  # the folder or notebook to grade; None with a problem
    problem: str | None = None  # "empty", "unreadable: not a notebook", "no micrograd files"
    submitted: datetime | None = None
    late_mark: bool | None = None  # the collector's own word (Canvas's "late"); None: it says nothing
    time_flags: tuple[str, ...] = ()  # a malformed collector time, a student's own timestamp.txt
    content: str = ""  # a hash of what the grader reads: a changed resubmission has another
    canvas_user_id: str | None = None  # Canvas's user id, from its bulk download's file names


def find_handins(folder: Path, scratch: Path, skip: Path | None = None) -> list[HandIn]:
    """Every student's hand-in in `folder`, in name order; zips and Canvas files are unpacked in `scratch`."""
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder} is not a folder: pass the folder that holds one hand-in per student")
    nbgrader = _nbgrader_folder(folder)
    entries = _entries(nbgrader or folder, skip)
    canvas = {entry for entry in entries if entry.is_file() and CANVAS_NAME.match(entry.name)}
    handins = [_nbgrader_handin(entry) if nbgrader else _handin(entry, scratch) for entry in entries
               if entry not in canvas and _is_handin(entry)]
    handins += _canvas_handins(sorted(canvas), scratch)
    return _unique(sorted((_with_content(handin) for handin in handins), key=lambda h: h.student.casefold()))


def describe(handins: list[HandIn]) -> str:
    """"60 students: 48 folders, 10 notebooks, 2 zips", and how many cannot be graded."""
    counts = {kind: sum(handin.kind == kind for handin in handins) for kind in KINDS}
    kinds = ", ".join(f"{count} {KINDS[kind][count > 1]}" for kind, count in counts.items() if count)
    problems = sum(handin.problem is not None for handin in handins)
    return (f"{len(handins)} students" + (f": {kinds}" if kinds else "")
            + (f"; {problems} cannot be graded (empty or unreadable: see the gradebook)" if problems else ""))


# ---- where the hand-ins are ------------------------------------------------------------------

def _nbgrader_folder(folder: Path) -> Path | None:
    """nbgrader's submitted/ folder, given it or the course folder that holds it."""
    if folder.name == NBGRADER_SUBMITTED:
        return folder
    course = (folder / "nbgrader_config.py").is_file() or (folder / "gradebook.db").is_file()
    return folder / NBGRADER_SUBMITTED if course and (folder / NBGRADER_SUBMITTED).is_dir() else None


def _entries(folder: Path, skip: Path | None) -> list[Path]:
    skip = skip.resolve() if skip else None
    return [entry for entry in sorted(folder.iterdir(), key=lambda path: path.name)
            if not entry.name.startswith(".") and entry.resolve() != skip]


def _is_handin(entry: Path) -> bool:
    """Folders, notebooks, zips and loose .py files; a notes.txt or a sidecar time is no student's."""
    return entry.is_dir() or (entry.is_file() and entry.suffix in (".ipynb", ".zip", ".py"))


def _handin(entry: Path, scratch: Path) -> HandIn:
    if entry.is_dir():
        kind, (path, problem) = "folder", locate(entry)
    elif entry.suffix == ".ipynb":
        kind, path, problem = "notebook", entry, None
    elif entry.suffix == ".zip":
        kind, (path, problem) = "zip", _unzipped(entry, scratch / entry.name)
    else:
        kind, path, problem = "file", None, f"unreadable: a loose {entry.suffix} file, not a folder, notebook or zip"
    student = entry.name if kind == "folder" else entry.stem
    sidecar = entry.parent / (student + SIDECAR)
    collected = entry if kind in ("zip", "file") else path or entry  # an extracted file's time is the student's
    submitted, flags = _collector_time(sidecar) if sidecar.is_file() else (_modified(collected), ())
    flags += _own_timestamp_flags(path, submitted) if kind in ("folder", "zip") and path else ()
    return HandIn(student, kind, path, problem, submitted, None, flags)


def _nbgrader_handin(entry: Path) -> HandIn:
    """submitted/<student>/<assignment>/: nbgrader's timestamp.txt (it writes it on submit) says when.

    The notebook is the hand-in there, as nbgrader grades it, even beside a micrograd/ the course
    handed out with it."""
    notebooks = [path for path in sorted(entry.glob("*/*.ipynb")) if _has_module_cells(path)] if entry.is_dir() else []
    path, problem = (notebooks[0], None) if len(notebooks) == 1 else \
        locate(entry) if entry.is_dir() else (None, "unreadable: not a folder of nbgrader's")
    assignment = path if path is None or path.is_dir() else path.parent
    stamp = assignment / TIMESTAMP if assignment else None
    submitted, flags = _collector_time(stamp) if stamp and stamp.is_file() else (_modified(path or entry), ())
    return HandIn(entry.name, "nbgrader", path, problem, submitted, None, flags)


def locate(root: Path) -> tuple[Path | None, str | None]:
    """(what to grade, None) in a student's folder: micrograd/ or the loose modules or one notebook,
    at the top or up to DEPTH levels down; else (None, what the folder is)."""
    level = [root]
    for _ in range(DEPTH + 1):
        found = [hit for folder in level if (hit := _handin_in(folder))]
        micrograd = [hit for hit in found if hit.is_dir() or _has_module_cells(hit)]
        if len(found) == 1 or len(micrograd) == 1:
            return (found if len(found) == 1 else micrograd)[0], None
        if found:
            names = ", ".join(str(hit.relative_to(root)) for hit in found[:3])
            return None, f"unreadable: several hand-ins in one folder ({names})"
        level = [child for folder in level for child in _subfolders(folder)]
    return None, "no micrograd files" if _holds_files(root) else "empty"


def _handin_in(folder: Path) -> Path | None:
    """`folder` if it holds micrograd/ or a loose module, else its one notebook (or the one with module cells)."""
    if any(os.path.lexists(where / f"{module}.py") for module in MODULES for where in (folder / PACKAGE, folder)):
        return folder
    notebooks = sorted(path for path in folder.glob("*.ipynb") if path.is_file())
    micrograd = [path for path in notebooks if _has_module_cells(path)]
    return notebooks[0] if len(notebooks) == 1 else micrograd[0] if len(micrograd) == 1 else None


def _has_module_cells(path: Path) -> bool:
    """Cheap: the notebook mentions the kit's cell tag at all (which cells are read is load's job)."""
    try:
        return path.stat().st_size < 2**26 and b'"mgkit"' in path.read_bytes()
    except OSError:
        return False


def _subfolders(folder: Path) -> list[Path]:
    try:
        return sorted(child for child in folder.iterdir() if child.is_dir() and not child.is_symlink()
                      and not child.name.startswith(".") and child.name not in IGNORED_FOLDERS)
    except OSError:
        return []


def _holds_files(root: Path) -> bool:
    for _, folders, files in os.walk(root):
        folders[:] = [name for name in folders if not name.startswith(".")]
        if any(not name.startswith(".") for name in files):
            return True
    return False


def _unique(handins: list[HandIn]) -> list[HandIn]:
    """alice/ and alice.ipynb: both graded, the second under its file's name."""
    seen: set[str] = set()
    unique = []
    for handin in handins:
        name = handin.student if handin.student not in seen else f"{handin.student}.{handin.kind}"
        seen.add(name)
        unique.append(replace(handin, student=name))
    return unique


def _with_content(handin: HandIn) -> HandIn:
    """The hand-in with the hash of what the grader will read, or the problem that stops it."""
    if handin.path is None:
        return handin
    try:
        sources = load(handin.path).sources
    except (SubmissionError, OSError) as error:
        return replace(handin, path=None, problem=f"unreadable: {error}")
    if all(text is None for text in sources.values()):
        problem = _notebook_problem(handin.path) if handin.path.suffix == ".ipynb" else "no micrograd files"
        return replace(handin, path=None, problem=problem)
    digest = hashlib.sha256()
    for module, text in sources.items():
        digest.update(f"{module}:{len(text) if text is not None else -1}:".encode() + (text or b""))
    return replace(handin, content=digest.hexdigest())


def _notebook_problem(path: Path) -> str:
    if path.stat().st_size == 0:
        return "empty"
    try:
        json.loads(path.read_bytes())["cells"]
    except (ValueError, KeyError, TypeError, RecursionError):
        return "unreadable: not a notebook"
    return "no micrograd cells (none tagged mgkit.module)"


# ---- zips, and Canvas's files ----------------------------------------------------------------

def _unzipped(archive: Path, into: Path) -> tuple[Path | None, str | None]:
    """Extract `archive` into `into` safely, then locate the hand-in in it."""
    try:
        problem = _extract(archive, into)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as error:
        problem = f"unreadable: not a zip ({type(error).__name__})" if not isinstance(error, OSError) \
            else f"unreadable: {error.strerror or error}"
    return (None, problem) if problem else locate(into)


def _extract(archive: Path, into: Path) -> str | None:
    """Only regular files at safe paths, at most MAX_ZIP_MEMBERS and MAX_ZIP_BYTES in all."""
    into.mkdir(parents=True, exist_ok=True)
    budget = MAX_ZIP_BYTES
    with zipfile.ZipFile(archive) as zipped:
        members = zipped.infolist()
        if len(members) > MAX_ZIP_MEMBERS:
            return f"unreadable: more than {MAX_ZIP_MEMBERS} files in the zip"
        for member in members:
            target = _safe_target(into, member)
            if target is None:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zipped.open(member) as source, open(target, "xb") as copy:
                budget -= _copy_capped(source, copy, budget)
            if budget < 0:
                return f"unreadable: the zip holds more than {MAX_ZIP_BYTES // 2**20} MB"
            moment = datetime(*member.date_time).timestamp()
            os.utime(target, (moment, moment))
    return None


def _safe_target(into: Path, member: zipfile.ZipInfo) -> Path | None:
    """Where a member may go: never a folder entry, a link, an absolute path or one climbing out."""
    name = member.filename.replace("\\", "/")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    mode = member.external_attr >> 16
    if member.is_dir() or not parts or name.startswith("/") or ".." in parts or ":" in parts[0] \
            or stat.S_IFMT(mode) not in (0, stat.S_IFREG):  # no type recorded: a plain file
        return None
    return into.joinpath(*parts) if not into.joinpath(*parts).exists() else None


def _copy_capped(source, copy, budget: int) -> int:
    """Bytes copied, stopping one chunk past `budget` (a zip bomb's header may lie about its size)."""
    copied = 0
    while chunk := source.read(1 << 20):
        copy.write(chunk)
        copied += len(chunk)
        if copied > budget:
            break
    return copied


def _canvas_handins(files: list[Path], scratch: Path) -> list[HandIn]:
    """Canvas's bulk download: every student's files, put back into a folder of their own."""
    students: dict[str, list[tuple[Path, str, bool]]] = {}
    user_ids: dict[str, set[str]] = {}
    for path in sorted(files, key=_canvas_order):  # the newest upload of a file last: it is the one kept
        match = CANVAS_NAME.match(path.name)
        name = CANVAS_RESUBMISSION.sub("", match["file"])
        students.setdefault(match["student"], []).append((path, name, bool(match["late"])))
        user_ids.setdefault(match["student"], set()).add(match["user"])
    # two students of one name have two ids: neither id is theirs alone, so none is kept
    return [replace(_canvas_handin(student, found, scratch / "canvas" / student),
                    canvas_user_id=next(iter(user_ids[student])) if len(user_ids[student]) == 1 else None)
            for student, found in students.items()]


def _canvas_order(path: Path) -> tuple[int, int]:
    """(submission id, upload number): Canvas names a file uploaded again engine-1.py, then engine-2.py."""
    match = CANVAS_NAME.match(path.name)
    again = CANVAS_RESUBMISSION.search(match["file"])
    return int(match["submission"]), int(again[1]) if again else 0


def _canvas_handin(student: str, files: list[tuple[Path, str, bool]], folder: Path) -> HandIn:
    problem = None
    for path, name, _ in files:
        if name.endswith(".zip"):
            problem = _unzipped(path, folder)[1] or problem
        else:
            target = folder / PACKAGE / name if name in {f"{module}.py" for module in MODULES} else folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    located, missing = locate(folder)
    submitted = max(datetime.fromtimestamp(os.lstat(path).st_mtime, UTC) for path, _, _ in files)
    late = any(late for _, _, late in files)
    return HandIn(student, "canvas", located, problem or missing, submitted, late)


# ---- when ------------------------------------------------------------------------------------

def parse_time(text: str, where: str) -> datetime:
    """A time in ISO 8601 or as nbgrader writes it ("2025-03-01 23:59:00.000000 UTC"), in UTC (assumed if no zone)."""
    text = text.strip()
    cleaned = text[:-4] + "+00:00" if text.endswith(" UTC") else text[:-1] + "+00:00" if text.endswith("Z") else text
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        raise ValueError(f"{where}: {text!r} is not a time; write it as 2025-03-01T23:59:00+00:00") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def read_time(stamp: Path) -> datetime:
    """The time on the first line of a timestamp file; ValueError if it holds none, OSError if unreadable."""
    with stamp.open("rb") as file:
        first = file.read(TIMESTAMP_BYTES).decode(errors="replace").split("\n", 1)[0]
    return parse_time(first, str(stamp))


def _collector_time(stamp: Path) -> tuple[datetime | None, tuple[str, ...]]:
    """A collector's time, or none and a flag: one malformed file costs its student a flag, nothing more."""
    try:
        return read_time(stamp), ()
    except (OSError, ValueError) as error:
        return None, (f"no submission time: {error}",)


def _modified(path: Path) -> datetime | None:
    """The newest modification time of the graded files (a notebook's or a zip's own), else the path's."""
    graded = [path / where / f"{module}.py" for module in MODULES for where in (PACKAGE, ".")] if path.is_dir() else []
    try:
        times = [os.lstat(file).st_mtime for file in graded if os.path.lexists(file)] or [os.lstat(path).st_mtime]
    except OSError:
        return None
    return datetime.fromtimestamp(max(times), UTC)


def _own_timestamp_flags(path: Path, submitted: datetime | None) -> tuple[str, ...]:
    """A timestamp.txt among the student's own files never sets the time; it is flagged if it disagrees."""
    stamp = (path if path.is_dir() else path.parent) / TIMESTAMP
    if not stamp.is_file():
        return ()
    try:
        claimed = read_time(stamp)
    except (OSError, ValueError):
        return (f"its own {TIMESTAMP} holds no time (ignored: the time comes from the collection)",)
    if submitted and abs((claimed - submitted).total_seconds()) <= DISAGREEMENT_SECONDS:
        return ()
    return (f"its own {TIMESTAMP} says {claimed.isoformat()} (ignored: the time comes from the collection)",)
