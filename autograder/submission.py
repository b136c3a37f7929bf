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

import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from .reference import MODULES, REFERENCE_PACKAGE_DIR
from .stubs import make_stub

PACKAGE = "micrograd"
MAX_MODULE_BYTES = 512 * 1024  # the reference engine is 10 KB; anything this big is not a module
MAX_NOTEBOOK_BYTES = 64 * 2**20  # notebooks carry their plots as images
NOTEBOOK_KEY = "mgkit"  # cell.metadata["mgkit"]: {"module": "nn", "package_imports": ["from .engine import Value"]}


# Constructs a person should look at (not a penalty): ways to game or escape the grader.
SUSPICIOUS = {
    "reads the caller's frames": r"sys\._getframe|\binspect\.(currentframe|stack|getouterframes)|\.f_(back|locals)\b",
    "searches the garbage collector": r"\bgc\.get_(objects|referrers|referents)\b",
    "uses ctypes": r"\bctypes\b",
    "ends the process": r"\bos\._exit\b|\bsys\.exit\b|\bos\.kill\b",
    "handles signals": r"\bsignal\.(signal|alarm|setitimer|pthread_kill)\b",
    "starts processes or threads": r"\bsubprocess\b|\bos\.(fork|system|popen|exec\w*|spawn\w*)\b|\bthreading\b",
    "reaches the network": r"\bsocket\b|\burllib\b|\brequests\b",
    "reads or writes files": r"\bopen\s*\(|\bshutil\b|\bos\.(remove|unlink|rename|replace|listdir|scandir|walk|chmod|"
                             r"write|dup2?)\b",
    "runs code built at run time": r"\b(exec|eval|compile)\s*\(|\b__import__\b|\bimportlib\b",
    "looks at its surroundings": r"\bos\.(environ|getcwd|getppid|getpid)\b|\bsys\.argv\b",
    "patches other modules": r"\bbuiltins\b|__builtins__|\bsys\.modules\b|\bsetattr\((math|numpy|np|json|random)\b",
    "imports torch": r"^\s*(import|from)\s+torch\b",
    "imports micrograd into its own engine": r"^\s*(import|from)\s+micrograd\b",
    "holds the lecture's numbers": r"6\.88137|0\.70710|0\.88137",
}
MAX_FLAGS = 20


class SubmissionError(ValueError):
    """The path cannot be graded at all (it does not exist, or is neither a folder nor a notebook)."""


@dataclass(frozen=True)
class Submission:
    name: str  # the student: the folder's name or the notebook's stem
    sources: dict[str, bytes | None]  # module -> its text; None: missing, graded as the starter
    notes: tuple[str, ...] = field(default=())  # what the grader had to do about the submission

    @property
    def flags(self) -> tuple[str, ...]:
        """Suspicious constructs, "engine.py:12: uses ctypes", for an instructor to review."""
        flags = []
        for module, text in self.sources.items():
            lines = (text or b"").decode("utf-8", "replace").splitlines()
            given = _starter_lines(module)  # the kit's own code (draw_dot's `import shutil`) is no one's doing
            patterns = {what: pattern for what, pattern in SUSPICIOUS.items()
                        if module == "engine" or "micrograd" not in what}  # nn and train may import the engine
            flags += [f"{module}.py:{number}: {what}" for number, line in enumerate(lines, start=1)
                      if line.strip() not in given
                      for what, pattern in patterns.items() if re.search(pattern, line)]
        return tuple(flags[:MAX_FLAGS])


def load(path: Path) -> Submission:
    """Read a submission's three modules into memory; SubmissionError if it is not one."""
    if not path.exists():
        raise SubmissionError(f"{path} does not exist: pass a submission folder or a .ipynb notebook")
    if path.is_dir():
        sources, notes = _folder_sources(path.resolve())
    elif path.suffix == ".ipynb" and path.is_file():
        sources, notes = _notebook_sources(path)
    else:
        raise SubmissionError(f"{path} is neither a folder nor a .ipynb notebook: pass a submission folder or notebook")
    return Submission(path.stem if path.suffix == ".ipynb" else path.resolve().name, sources, tuple(notes))


# ---- a folder ------------------------------------------------------------------------------

def _folder_sources(root: Path) -> tuple[dict[str, bytes | None], list[str]]:
    """The modules under root/micrograd/, or at root itself when a student uploaded them loose."""
    sources: dict[str, bytes | None] = dict.fromkeys(MODULES)
    notes: list[str] = []
    for module in MODULES:
        packaged, loose = root / PACKAGE / f"{module}.py", root / f"{module}.py"
        for candidate in (packaged, loose):
            sources[module], problem = _read_regular_file(candidate, root)
            if problem or sources[module] is not None:
                break
        if problem:
            notes.append(f"{problem}: graded as the untouched starter")
        elif sources[module] is None:
            notes.append(f"{PACKAGE}/{module}.py is missing: graded as the untouched starter")
        elif candidate == loose:
            notes.append(f"found {module}.py outside the {PACKAGE}/ folder: graded it as {PACKAGE}/{module}.py")
    return sources, notes


def _read_regular_file(path: Path, root: Path) -> tuple[bytes | None, str | None]:
    """(bytes, None) for a regular file reached without a symlink; (None, None) if absent; else (None, why)."""
    where = path.relative_to(root)
    for part in (path.parent, path):
        try:
            mode = os.lstat(part).st_mode
        except (FileNotFoundError, NotADirectoryError):
            return None, None
        if stat.S_ISLNK(mode):
            return None, f"{where} is reached through a symlink, which the grader never follows"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)  # a FIFO must not block us
        with os.fdopen(fd, "rb") as file:
            if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                return None, f"{where} is not a regular file"
            text = file.read(MAX_MODULE_BYTES + 1)
    except OSError as error:
        return None, f"{where} could not be read ({error.strerror})"
    if len(text) > MAX_MODULE_BYTES:
        return None, f"{where} is larger than {MAX_MODULE_BYTES // 1024} KB"
    return text, None


# ---- a notebook ----------------------------------------------------------------------------

def _notebook_sources(path: Path) -> tuple[dict[str, bytes | None], list[str]]:
    """Each module's tagged code cells, in order; an unreadable notebook is an empty submission.

    The same text as `notebooks.module_sources` makes (each cell followed by the package imports
    it stands for), read here as plain JSON: no nbformat import (a second of start-up), no
    validation, so a notebook whose other cells were altered still yields its module cells.
    """
    found: dict[str, list[str]] = {module: [] for module in MODULES}
    if path.stat().st_size > MAX_NOTEBOOK_BYTES:
        return dict.fromkeys(MODULES), [f"{path.name} is larger than {MAX_NOTEBOOK_BYTES // 2**20} MB: graded as empty"]
    try:
        for cell in json.loads(path.read_bytes())["cells"]:
            tag = _module_tag(cell)
            if tag:
                found[tag["module"]].append("\n".join([_without_magics(_text(cell["source"])),
                                                       *tag.get("package_imports", [])]))
    except (ValueError, KeyError, TypeError, RecursionError) as error:  # not a notebook: nothing to grade
        return dict.fromkeys(MODULES), [f"{path.name} could not be read as a notebook ({type(error).__name__}):"
                                        " graded as empty"]
    sources = {module: ("\n\n\n".join(texts) + "\n").encode() if texts else None for module, texts in found.items()}
    notes = [f"{path.name} has no code cell of {module}.py (metadata mgkit.module = {module!r}):"
             " graded as the untouched starter" for module, text in sources.items() if text is None]
    return sources, notes


def _module_tag(cell: object) -> dict | None:
    """A code cell's well-formed cell.metadata.mgkit tag, else None (an exploring cell, or tampered)."""
    if not isinstance(cell, dict) or cell.get("cell_type") != "code" or not isinstance(cell.get("metadata"), dict):
        return None
    tag = cell["metadata"].get(NOTEBOOK_KEY)
    if not isinstance(tag, dict) or tag.get("module") not in MODULES:
        return None
    imports = tag.get("package_imports", [])
    return tag if isinstance(imports, list) and all(isinstance(line, str) for line in imports) else None


def _text(source: object) -> str:
    """A cell's source: one string, or (as stored on disk) a list of lines."""
    if isinstance(source, str):
        return source
    if isinstance(source, list) and all(isinstance(line, str) for line in source):
        return "".join(source)
    raise TypeError("a cell's source is neither text nor a list of lines")


def _without_magics(source: str) -> str:
    """IPython's %magics and !shell lines mean nothing in a module: keep them as comments."""
    return "\n".join(f"# {line}" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


# ---- the private copy ----------------------------------------------------------------------

@contextmanager
def private_copy(submission: Submission) -> Iterator[Path]:
    """A fresh folder (mode 0700) holding micrograd/ with the kit's __init__.py and the three modules."""
    folder = Path(tempfile.mkdtemp(prefix="mgkit-"))
    try:
        (folder / PACKAGE).mkdir(mode=0o700)
        write_package(folder / PACKAGE, submission.sources)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def write_package(package: Path, sources: dict[str, bytes | None] | None = None) -> None:
    """micrograd/ in `package`: the kit's __init__.py, and each module from `sources` or else the starter."""
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text(starter("__init__"))
    for module in MODULES:
        text = (sources or {}).get(module)
        (package / f"{module}.py").write_bytes(text if text is not None else starter(module).encode())


@cache
@cache
def _starter_lines(module: str) -> frozenset[str]:
    try:
        return frozenset(line.strip() for line in starter(module).splitlines())
    except OSError:  # no reference where the kit keeps it: flag every line
        return frozenset()


def starter(module: str) -> str:
    """The untouched starter version of one module, generated from the reference."""
    return make_stub(REFERENCE_PACKAGE_DIR / f"{module}.py")
