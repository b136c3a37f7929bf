"""A submission: the student's engine.py, nn.py and train.py, read safely and copied privately.

A submission is a folder holding micrograd/engine.py, micrograd/nn.py and micrograd/train.py (as
in the student release), or a notebook of the notebook track whose module cells are tagged
`metadata["mgkit"]["module"]`. Only those three files are ever read: a stray conftest.py,
numpy.py or .pth file beside them is never copied. Nothing is followed through a symlink, and a
file too large to be a micrograd module counts as missing. A missing file is graded as the
starter's, so its tasks score 0 and the others are graded normally.

    submission = load(Path("alice"))
    with private_copy(submission) as folder:    # folder/micrograd/{__init__,engine,nn,train}.py
        ...
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from ..reference import solution
from ..reference.solution import MODULES
from ..reference.stubs import make_stub

PACKAGE = "micrograd"
MAX_MODULE_BYTES = 512 * 1024  # the reference engine is 10 KB; anything this big is not a module
MAX_NOTEBOOK_BYTES = 64 * 2**20  # notebooks carry their plots as images
# cell.metadata["mgkit"]: {"module": "nn", "package_imports": ["from .engine import Value"]}
NOTEBOOK_KEY = "mgkit"


# Constructs a person should look at (not a penalty): ways to game or escape the grader.
SUSPICIOUS = {
    "reads the caller's frames":
    r"sys\._getframe|\binspect\.(currentframe|stack|getouterframes)|\.f_(back|locals)\b",
    "searches the garbage collector":
    r"\bgc\.get_(objects|referrers|referents)\b",
    "uses ctypes":
    r"\bctypes\b",
    "ends the process":
    r"\bos\._exit\b|\bsys\.exit\b|\bos\.kill\b",
    "handles signals":
    r"\bsignal\.(signal|alarm|setitimer|pthread_kill)\b",
    "starts processes or threads":
    r"\bsubprocess\b|\bos\.(fork|system|popen|exec\w*|spawn\w*)\b|\bthreading\b",
    "reaches the network":
    r"\bsocket\b|\burllib\b|\brequests\b",
    "reads or writes files":
    r"\bopen\s*\(|\bshutil\b|\bos\.(remove|unlink|rename|replace|listdir|scandir|walk|chmod|"
    r"write|dup2?)\b",
    "runs code built at run time":
    r"\b(exec|eval|compile)\s*\(|\b__import__\b|\bimportlib\b",
    "looks at its surroundings":
    r"\bos\.(environ|getcwd|getppid|getpid)\b|\bsys\.argv\b",
    "patches other modules":
    r"\bbuiltins\b|__builtins__|\bsys\.modules\b|\bsetattr\((math|numpy|np|json|random)\b",
    "imports torch":
    r"^\s*(import|from)\s+torch\b",
    "imports micrograd into its own engine":
    r"^\s*(import|from)\s+micrograd\b",
    "holds the lecture's numbers":
    r"6\.88137|0\.70710|0\.88137",
}
MAX_FLAGS = 20


class SubmissionError(ValueError):
    """The path cannot be graded at all (it does not exist, or is neither a folder nor a
    notebook)."""


@dataclass(frozen=True)
class Submission:
    name: str  # the student: the folder's name or the notebook's stem
    sources: dict[str, bytes | None]  # module -> its text; None: missing, graded as the starter
    notes: tuple[str, ...] = field(default=())  # what the grader had to do about the submission
    # files that are there but could not be read, and why
    unread: tuple[str, ...] = field(default=())

    @property
    def flags(self) -> tuple[str, ...]:
        """Suspicious constructs, "engine.py:12: uses ctypes", for an instructor to review."""
        # a corrupt zip member, a link: not silent
        flags = [f"could not read {why}" for why in self.unread]
        for module, text in self.sources.items():
            lines = (text or b"").decode("utf-8", "replace").splitlines()
            # the kit's own code (draw_dot's `import shutil`) is no one's doing
            given = _starter_lines(module)
            patterns = {what: pattern for what, pattern in SUSPICIOUS.items()
                        # nn and train may import the engine
                        if module == "engine" or "micrograd" not in what}
            flags += [f"{module}.py:{number}: {what}" for number, line in enumerate(lines, start=1)
                      if line.strip() not in given
                      for what, pattern in patterns.items() if re.search(pattern, line)]
        return tuple(flags[:MAX_FLAGS])


def load(path: Path) -> Submission:
    """Read a submission's three modules into memory; SubmissionError if it is not one."""
    if not os.path.lexists(path):
        raise SubmissionError(
            f"{path} does not exist: pass a submission folder or a .ipynb notebook")
    # a notebook is read only where it was handed in
    if path.is_symlink() and path.suffix == ".ipynb":
        why = f"{path.name}: a symlink, which the grader never follows"
        return Submission(path.stem, dict.fromkeys(MODULES), (f"{why}: graded as empty",), (why,))
    if path.is_dir():
        root = path.resolve()
        sources, notes, unread = folder_sources(
            lambda where: _read_regular_file(root / where, root))
    elif path.suffix == ".ipynb" and path.is_file():
        data, problem = read_regular(path, MAX_NOTEBOOK_BYTES, path.name)
        sources, notes, unread = notebook_sources(data, path.name) if problem is None else \
            (dict.fromkeys(MODULES), [f"{problem}: graded as empty"], [problem])
    else:
        raise SubmissionError(
            f"{path} is neither a folder nor a .ipynb notebook: pass a submission folder or"
            " notebook"
        )
    name = path.stem if path.suffix == ".ipynb" else path.resolve().name
    return Submission(name, sources, tuple(notes), tuple(unread))


# ---- a folder ------------------------------------------------------------------------------

# "micrograd/nn.py" -> (its bytes, None), (None, None) if absent, (None, why) if it cannot be read
Read = Callable[[str], tuple[bytes | None, str | None]]


def folder_sources(read: Read) -> tuple[dict[str, bytes | None], list[str], list[str]]:
    """The modules under micrograd/, or at the top when a student uploaded them loose, the notes,
    and why each file that is there could not be read; `read` reads one by its path (from a folder
    on disk, or a zip in memory: the same rules for both)."""
    sources: dict[str, bytes | None] = dict.fromkeys(MODULES)
    notes: list[str] = []
    unread: list[str] = []
    for module in MODULES:
        packaged, loose = f"{PACKAGE}/{module}.py", f"{module}.py"
        for candidate in (packaged, loose):
            sources[module], problem = read(candidate)
            if problem or sources[module] is not None:
                break
        if problem:
            notes.append(f"{problem}: graded as the untouched starter")
            unread.append(problem)
        elif sources[module] is None:
            notes.append(f"{PACKAGE}/{module}.py is missing: graded as the untouched starter")
        elif candidate == loose:
            notes.append(
                f"found {module}.py outside the {PACKAGE}/ folder: graded it as"
                f" {PACKAGE}/{module}.py"
            )
    return sources, notes, unread


def _read_regular_file(path: Path, root: Path) -> tuple[bytes | None, str | None]:
    """(bytes, None) for a regular file reached without a symlink; (None, None) if absent; else
    (None, why)."""
    where = path.relative_to(root)
    for part in (path.parent, path):
        try:
            mode = os.lstat(part).st_mode
        except (FileNotFoundError, NotADirectoryError):
            return None, None
        if stat.S_ISLNK(mode):
            return None, f"{where} is reached through a symlink, which the grader never follows"
    return read_regular(path, MAX_MODULE_BYTES, str(where))


def read_regular(path: Path, cap: int, where: str) -> tuple[bytes | None, str | None]:
    """(at most `cap` bytes, None) of a regular file opened without following a link; else (None,
    why).

    O_NONBLOCK: a FIFO must not block the reader; fstat: a device (/dev/zero) is never read.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:
        return None, (
            f"{where} could not be read ({error.strerror})"
            if error.errno != errno.ELOOP
            else f"{where} is reached through a symlink, which the grader never follows"
        )
    with os.fdopen(fd, "rb") as file:  # closed however the reading ends
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
            return None, f"{where} is not a regular file"
        try:
            text = file.read(cap + 1)
        except OSError as error:
            return None, f"{where} could not be read ({error.strerror})"
    if len(text) > cap:
        return None, f"{where} is larger than {size_text(cap)}"
    return text, None


def size_text(size: int) -> str:
    """512 KB, 64 MB: a limit as people read it."""
    return f"{size // 2**20} MB" if size >= 2**20 else f"{size // 1024} KB"


# ---- a notebook ----------------------------------------------------------------------------


def notebook_sources(data: bytes,
                     name: str) -> tuple[dict[str, bytes | None], list[str], list[str]]:
    """Each module's tagged code cells of the notebook `data` (its file: `name`), in order; an
    unreadable notebook is an empty submission, a module too large to be one is the starter's.

    The same text as `notebooks.module_sources` makes (each cell followed by the package imports
    it stands for), read here as plain JSON: no nbformat import (a second of start-up), no
    validation, so a notebook whose other cells were altered still yields its module cells.
    """
    found: dict[str, list[str]] = {module: [] for module in MODULES}
    try:
        for cell in json.loads(data)["cells"]:
            tag = _module_tag(cell)
            if tag:
                found[tag["module"]].append("\n".join([_without_magics(_text(cell["source"])),
                                                       *tag.get("package_imports", [])]))
    # not a notebook: nothing to grade
    except (ValueError, KeyError, TypeError, RecursionError) as error:
        why = f"{name} as a notebook ({type(error).__name__})"
        return dict.fromkeys(MODULES), [
            f"{name} could not be read as a notebook ({type(error).__name__}):"
            " graded as empty"
        ], [why]
    sources = {
        module: ("\n\n\n".join(texts) + "\n").encode() if texts else None
        for module, texts in found.items()
    }
    notes = [f"{name} has no code cell of {module}.py (metadata mgkit.module = {module!r}):"
             " graded as the untouched starter" for module, text in sources.items() if text is None]
    unread = []
    for module, text in sources.items():
        # the flag scan and the grader read no more
        if text is not None and len(text) > MAX_MODULE_BYTES:
            sources[module] = None
            why = f"{name}'s cells of {module}.py: larger than {MAX_MODULE_BYTES // 1024} KB"
            notes.append(f"{why}: graded as the untouched starter")
            unread.append(why)
    return sources, notes, unread


def _module_tag(cell: object) -> dict | None:
    """A code cell's well-formed cell.metadata.mgkit tag, else None (an exploring cell, or
    tampered)."""
    if not (isinstance(cell, dict) and cell.get("cell_type") == "code"
            and isinstance(cell.get("metadata"), dict)):
        return None
    tag = cell["metadata"].get(NOTEBOOK_KEY)
    if not isinstance(tag, dict) or tag.get("module") not in MODULES:
        return None
    imports = tag.get("package_imports", [])
    return tag if isinstance(imports, list) and all(isinstance(line, str)
                                                    for line in imports) else None


def _text(source: object) -> str:
    """A cell's source: one string, or (as stored on disk) a list of lines."""
    if isinstance(source, str):
        return source
    if isinstance(source, list) and all(isinstance(line, str) for line in source):
        return "".join(source)
    raise TypeError("a cell's source is neither text nor a list of lines")


def _without_magics(source: str) -> str:
    """IPython's %magics and !shell lines mean nothing in a module: keep them as comments."""
    return "\n".join(f"# {line}" if line.lstrip().startswith(("%", "!")) else line
                     for line in source.splitlines())


# ---- the private copy ----------------------------------------------------------------------

@contextmanager
def private_copy(submission: Submission, within: Path | None = None) -> Iterator[Path]:
    """A fresh folder (mode 0700) holding micrograd/ with the kit's __init__.py and the three
    modules, in `within` (a class run's scratch, see run_scratch) or else the system's temporary
    folder."""
    folder = Path(tempfile.mkdtemp(prefix="mgkit-", dir=within))
    try:
        (folder / PACKAGE).mkdir(mode=0o700)
        write_package(folder / PACKAGE, submission.sources)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


RUN_SCRATCH = "mgkit-run-"  # a class run's folder of private copies, in the temporary folder
# flock'd by the run for its lifetime: a folder whose lock is free was left by a dead run
SCRATCH_LOCK = ".lock"


@contextmanager
def run_scratch() -> Iterator[Path]:
    """A class run's own folder for its students' private copies, removed when the run ends.

    Wherever TMPDIR points (a cluster job's folder is no private /tmp), the copies sit in this
    folder: mode 0711, so no worker can list it and find a classmate's copy (each is 0700 under
    a random name, and the sandbox hides this folder from every worker); its lock is held while
    the run lives, so that the next run removes what a killed run (kill -9) left behind.
    """
    _remove_stale_scratch(Path(tempfile.gettempdir()))
    folder = Path(tempfile.mkdtemp(prefix=RUN_SCRATCH))
    os.chmod(folder, 0o711)
    lock = os.open(folder / (SCRATCH_LOCK + "-new"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        # seen by a sweep only once held
        os.rename(folder / (SCRATCH_LOCK + "-new"), folder / SCRATCH_LOCK)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        os.close(lock)


def _remove_stale_scratch(temporary: Path) -> None:
    """Every run scratch of this user whose run is dead (its lock free), and what is in it."""
    for folder in temporary.glob(RUN_SCRATCH + "*"):
        try:
            if folder.is_symlink() or folder.stat().st_uid != os.getuid():
                continue
            lock = os.open(folder / SCRATCH_LOCK, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            continue  # another user's, or a run that has not taken its lock yet
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # a live run's
        else:
            shutil.rmtree(folder, ignore_errors=True)
        finally:
            os.close(lock)


def write_package(package: Path, sources: dict[str, bytes | None] | None = None) -> None:
    """micrograd/ in `package`: the kit's __init__.py, and each module from `sources` or else the
    starter."""
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text(starter("__init__"))
    for module in MODULES:
        text = (sources or {}).get(module)
        (package /
         f"{module}.py").write_bytes(text if text is not None else starter(module).encode())


@cache
@cache
def _starter_lines(module: str) -> frozenset[str]:
    try:
        return frozenset(line.strip() for line in starter(module).splitlines())
    except OSError:  # no reference where the kit keeps it: flag every line
        return frozenset()


def starter(module: str) -> str:
    """The untouched starter version of one module, generated from the reference."""
    return make_stub(solution.REFERENCE_PACKAGE_DIR / f"{module}.py")
