"""Files the kit writes for people: never over one it did not write unless asked, and always
whole."""

from __future__ import annotations

import fcntl
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK = ".mgkit-lock"  # in a folder mgkit writes: held by the one run writing there
# what a spreadsheet reads as a formula (OWASP's CSV injection)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# before one of them, it makes the cell text; before a cell that starts with it, it keeps it
# reversible
QUOTE = "'"
# what a terminal acts on: C0 and C1 control characters (but the newline), and the bidirectional
# overrides
CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def spreadsheet_cell(text: str) -> str:
    """`text` as a CSV cell that no spreadsheet reads as a formula: a ' before =, +, -, @, tab, CR
    (and ')."""
    return QUOTE + text if text.startswith((*FORMULA_STARTS, QUOTE)) else text


def spreadsheet_value(cell: str) -> str:
    """The text `spreadsheet_cell` was given."""
    return cell[1:] if cell.startswith(QUOTE) else cell


def printable(text: str) -> str:
    """`text` safe for a terminal: every control character (escape sequences' start included) shown
    as U+FFFD."""
    return CONTROL.sub("\ufffd", text)


def check_replaceable(path: Path, force: bool, is_ours: Callable[[Path], bool]) -> None:
    """A one-line error unless `path` may be written: free, written by mgkit (`is_ours`), or
    `force`."""
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"{path.parent} is not a folder: make it first, or pass another --out")
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder: pass --out a file in it")
    if path.exists() and not force and not is_ours(path):
        raise FileExistsError(
            f"{path} exists and mgkit did not write it: pass --force to replace it, or another"
            " --out"
        )


def write_atomically(path: Path, data: str | bytes) -> None:
    """Write to a temporary file beside `path`, then rename it over `path` in one step."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data.encode() if isinstance(data, str) else data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@contextmanager
def locked(folder: Path) -> Iterator[None]:
    """Hold `folder` for this process alone, or a one-line error naming the run that holds it.

    flock: the kernel lets go when the holder exits, however it dies, so no lock is left stuck.
    """
    folder.mkdir(parents=True, exist_ok=True)
    handle = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(handle, 32, 0).decode(errors="replace").strip() or "?"
            raise FileExistsError(
                f"{folder} is being written by another mgkit run (process {holder}):"
                " wait for it to finish, or pass another --out") from None
        os.ftruncate(handle, 0)
        os.pwrite(handle, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(handle)
