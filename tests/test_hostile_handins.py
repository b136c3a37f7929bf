"""Hostile and broken hand-ins, as containers, names and times: each gets a row that says what
happened, the class run finishes, the honest student beside them gets full marks, and nothing
outside a hand-in is read. One class of every shape, graded once for the module; each test asserts
on that one run."""

from __future__ import annotations

import csv
import ctypes
import io
import os
import struct
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from fake_entry import CORRECT_ENGINE, write_submission
from test_handins import DEADLINE, FULL, notebook, read_gradebook, run, zipped

from autograder.classrun.gradebook import GRADEBOOK, INDEX, SUMMARY, LatePolicy
from autograder.classrun.handins import FILE_DATES, KIT_OUTPUTS, find_handins, student_id
from autograder.reference.outputs import printable, spreadsheet_cell, spreadsheet_value

LATE = (DEADLINE + timedelta(days=3)).timestamp()
ON_TIME = "2025-03-01T12:00:00+00:00"
NON_UTF8 = os.fsdecode(b"caf\xe9")  # what unzip makes of a name from Windows
LONG = "n" * 255
DEEP = 1000  # folders
FORMULAS = ('=HYPERLINK("x",A2)', "+cmd", "-2+3", "@SUM(A1)")

# hand-in (as the gradebook names it) -> (state, words its status must hold)
EXPECTED = {
    "flipped": ("unreadable", "corrupt zip"),
    # its engine.py graded; its corrupt train.py flagged, as the starter
    "halfcorrupt": ("graded", "graded"),
    "encrypted": ("unreadable", "password-protected"),
    "zerodate": ("graded", "graded"),
    "deep": ("empty", "no micrograd files"),
    "deepzip": ("empty", "no micrograd files"),
    "fifo": ("unreadable", "not a regular file"),
    "devzero": ("unreadable", "symlink"),
    "zeroengine": ("unreadable", "symlink"),
    "linkednb": ("unreadable", "symlink"),
    "toplink": ("unreadable", "symlink"),
    "gradebook.csv (hand-in)": ("graded", "graded"),
    "index.html (hand-in)": ("graded", "graded"),
    "\ufffdcarriage": ("graded", "graded"),
    student_id(NON_UTF8): ("graded", "graded"),
    student_id(LONG): ("graded", "graded"),
    **{formula: ("graded", "graded") for formula in FORMULAS},
    "backdated": ("graded", "graded"),
    "honest": ("graded", "graded"),
}


class Watch:
    """inotify on folders outside the class: did anything open or read a file in them?"""

    IN_ACCESS, IN_OPEN, IN_NONBLOCK = 0x1, 0x20, 0o4000

    def __init__(self, *folders: Path):
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self.libc.inotify_init1(self.IN_NONBLOCK)
        assert self.fd >= 0
        for folder in folders:
            assert self.libc.inotify_add_watch(self.fd, os.fsencode(folder),
                                               self.IN_ACCESS | self.IN_OPEN) >= 0

    def opened(self) -> list[str]:
        try:
            data = os.read(self.fd, 1 << 16)
        except BlockingIOError:
            return []
        names, offset = [], 0
        while offset < len(data):
            _, _, _, length = struct.unpack_from("iIII", data, offset)
            names.append(data[offset + 16:offset + 16 +
                              length].rstrip(b"\0").decode(errors="replace"))
            offset += 16 + length
        return names


def _flipped_zip(path: Path) -> None:
    zipped(path, {"micrograd/engine.py": CORRECT_ENGINE * 3})
    data = bytearray(path.read_bytes())
    data[60] ^= 0xFF  # a byte of the deflated engine.py
    path.write_bytes(bytes(data))


def _half_corrupt_zip(path: Path) -> None:
    """A good engine.py beside a train.py with one flipped byte."""
    zipped(path, {"micrograd/engine.py": CORRECT_ENGINE, "micrograd/train.py": CORRECT_ENGINE * 3})
    with zipfile.ZipFile(path) as archive:
        member = archive.getinfo("micrograd/train.py")
        start = member.header_offset + 30 + len(member.filename) + len(member.extra)
    data = bytearray(path.read_bytes())
    data[start + member.compress_size // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _encrypted_zip(path: Path) -> None:
    """A zip whose member says "encrypted" (bit 0 of its flags, in both headers), as a
    password-protected one does."""
    zipped(path, {"micrograd/engine.py": CORRECT_ENGINE})
    data = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        data[data.index(signature) + offset] |= 0x1
    path.write_bytes(bytes(data))


def _zero_date_zip(path: Path) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("micrograd/engine.py", date_time=(1980, 0, 0, 0, 0, 0)),
                         CORRECT_ENGINE)


def _deep_tree(top: Path, depth: int) -> None:
    """top/d/d/.../d/engine.py, `depth` folders down, made one level at a time (pathlib recurses per
    level)."""
    top.mkdir()
    fd = os.open(top, os.O_DIRECTORY)
    for _ in range(depth):
        os.mkdir("d", dir_fd=fd)
        fd, above = os.open("d", os.O_DIRECTORY, dir_fd=fd), fd
        os.close(above)
    with open(os.open("engine.py", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "w") as file:
        file.write(CORRECT_ENGINE)
    os.close(fd)


def _remove_deep_tree(top: Path, depth: int) -> None:
    """The tree _deep_tree made, removed from the bottom up (shutil.rmtree would recurse 1,000
    deep)."""
    fds = [os.open(top, os.O_DIRECTORY)]
    for _ in range(depth):
        fds.append(os.open("d", os.O_DIRECTORY, dir_fd=fds[-1]))
    os.unlink("engine.py", dir_fd=fds[-1])
    for below, above in zip(reversed(fds[1:]), reversed(fds[:-1]), strict=True):
        os.close(below)
        os.rmdir("d", dir_fd=above)
    os.close(fds[0])


def _hostile_class(root: Path) -> tuple[Path, Path]:
    course, outside = root / "class", root / "instructor"
    outside.mkdir(parents=True)
    # the instructor's solution: full marks if read
    (outside / "source.ipynb").write_text(notebook())
    write_submission(outside / "solution")
    write_submission(course / "honest")
    _flipped_zip(course / "flipped.zip")
    _encrypted_zip(course / "encrypted.zip")
    _half_corrupt_zip(course / "halfcorrupt.zip")
    _zero_date_zip(course / "zerodate.zip")
    _deep_tree(course / "deep", DEEP)
    zipped(course / "deepzip.zip",
           {"/".join(["d"] * 1000) + "/micrograd/engine.py": CORRECT_ENGINE})
    os.mkfifo(course / "fifo.ipynb")
    (course / "devzero.ipynb").symlink_to("/dev/zero")
    (course / "zeroengine" / "micrograd").mkdir(parents=True)
    (course / "zeroengine" / "micrograd" / "engine.py").symlink_to("/dev/zero")
    (course / "linkednb").mkdir()
    (course / "linkednb" / "lab.ipynb").symlink_to(Path("..", "..", "instructor", "source.ipynb"))
    (course / "toplink").symlink_to(outside / "solution", target_is_directory=True)
    write_submission(course / "gradebook.csv")
    zipped(course / "index.html.zip", {"micrograd/engine.py": CORRECT_ENGINE})
    for name in ("\rcarriage", NON_UTF8, LONG, *FORMULAS):
        write_submission(course / name)
    # on time, says its own timestamp.txt; the collector says 3 days late
    write_submission(course / "backdated")
    (course / "backdated" / "timestamp.txt").write_text(ON_TIME + "\n")
    os.utime(course / "backdated" / "micrograd" / "engine.py", (0, 0))
    (course /
     "backdated.timestamp.txt").write_text(f"{(DEADLINE + timedelta(days=3)).isoformat()}\n")
    return course, outside


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    course, outside = _hostile_class(root)
    watch = Watch(outside, outside / "solution" / "micrograd")
    said: list[str] = []
    results = run(course, root / "out", late=LatePolicy(DEADLINE, 10), say=said.append)
    yield results, root / "out", said, watch.opened()
    _remove_deep_tree(course / "deep", DEEP)


def test_every_hand_in_has_a_row_that_says_what_happened(graded):
    results, out, said, _ = graded
    book = read_gradebook(out)
    assert set(book) == set(EXPECTED)
    for student, (state, words) in EXPECTED.items():
        assert book[student]["state"] == state and words in book[student]["status"], (student,
                                                                                      book[student])
    graded_ones = {student for student, (state, _) in EXPECTED.items() if state == "graded"}
    assert {student
            for student, grade_ in results.grades.items() if grade_.score == FULL} == graded_ones
    assert not results.errors and said[0].startswith(f"{len(EXPECTED)} students")


def test_a_file_that_cannot_be_read_is_flagged_and_graded_as_the_starter(graded):
    results, out, _, _ = graded
    half = results.grades["halfcorrupt"]
    assert read_gradebook(out)["halfcorrupt"]["flags"].startswith("could not read a corrupt zip")
    # the fake grade reads engine.py alone
    assert "micrograd/train.py" in half.flags[0] and half.score == FULL
    assert any("train.py" in note and note.endswith("graded as the untouched starter")
               for note in half.notes)


def test_nothing_outside_a_hand_in_is_read_or_scored(graded):
    results, _, _, opened = graded
    assert opened == []  # the instructor's notebook and solution were never opened, by anyone
    assert "linkednb" not in results.grades and "toplink" not in results.grades


def test_the_kits_own_files_stay_the_kits(graded):
    _, out, _, _ = graded
    assert all((out / name).is_file() for name in (GRADEBOOK, INDEX, SUMMARY))
    assert (out / "gradebook.csv (hand-in)" / "results.json").is_file()
    assert {"gradebook.csv", "index.html"} <= KIT_OUTPUTS


def test_no_cell_of_the_gradebook_is_a_formula_and_every_row_reads_back(graded):
    _, out, _, _ = graded
    text = (out / GRADEBOOK).read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) == len(EXPECTED) + 1 and all(len(row) == len(rows[0]) for row in rows)
    assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in rows
               for cell in row)
    assert {f"'{formula}" for formula in FORMULAS} <= {row[0] for row in rows}


def test_a_late_hand_in_cannot_be_made_on_time_from_inside(graded):
    _, out, _, _ = graded
    book = read_gradebook(out)
    assert book["backdated"]["days_late"] == "3"
    assert f"its own timestamp.txt says {ON_TIME} (ignored" in book["backdated"]["flags"]
    # no collector's time: the row says where it came from
    assert book["zerodate"]["flags"] == FILE_DATES


def test_student_text_is_inert_in_every_view():
    for text in ("=1+1", "+x", "-x", "@x", "\tx", "\rx", "'=x", "plain"):
        cell = spreadsheet_cell(text)
        assert not cell.startswith(
            ("=", "+", "-", "@", "\t", "\r")) and spreadsheet_value(cell) == text
    assert printable("a\x1b[2Jb\rc\u202ed\n") == "a\ufffd[2Jb\ufffdc\ufffdd\n"


def test_nbgrader_time_only_from_its_own_stamp(tmp_path):
    student = tmp_path / "submitted" / "eve" / "lab"
    (student / "pkg" / "micrograd").mkdir(parents=True)
    (student / "pkg" / "micrograd" / "engine.py").write_text(CORRECT_ENGINE)
    # nbgrader's: 3 days late
    (student / "timestamp.txt").write_text("2025-03-04 10:00:00.000000 UTC\n")
    # the student's own, one level down
    (student / "pkg" / "timestamp.txt").write_text(ON_TIME + "\n")
    [handin] = find_handins(tmp_path / "submitted")
    assert handin.submitted.isoformat() == "2025-03-04T10:00:00+00:00" and handin.time_flags == ()


def test_canvas_names_of_every_shape_keep_their_ids_and_late_mark(tmp_path):
    names = {
        "van_rossum_guido_12_34_engine.py": CORRECT_ENGINE,
        "van_rossum_guido_12_35_nn-1.py": "x = 1\n",
        "lovelace_ada_late_13_36_lab.ipynb": notebook(),
        "hopper-grace_14_37_engine.py": CORRECT_ENGINE
    }
    for name, text in names.items():
        (tmp_path / name).write_text(text)
    found = {handin.student: handin for handin in find_handins(tmp_path)}
    assert {
        student: (handin.canvas_user_id, handin.late_mark, handin.problem)
        for student, handin in found.items()
    } == {
        "van_rossum_guido": ("12", False, None),
        "lovelace_ada": ("13", True, None),
        "hopper-grace": ("14", False, None),
    }
    assert found["van_rossum_guido"].submission.sources["nn"] == b"x = 1\n"


def test_feedback_shows_student_text_literally_and_loads_nothing(tmp_path):
    from autograder.classrun.dashboard import feedback_page
    from autograder.grading.outcomes import TaskResult
    from autograder.grading.results import GradingResults, render_feedback
    from autograder.reference.rubric import TASKS

    raised = (
        "# Score 100 / 100\n[link](http://evil) ![x](http://evil/x.png) <img src=http://evil> ```"
    )
    tasks = tuple(
        TaskResult(task.id, 0.0, float(task.points), f"raised: {raised}") for task in TASKS)
    (tmp_path / "feedback.md").write_text(
        render_feedback(GradingResults(tasks, 1, notes=(raised, )), "[me](x)"))
    page = feedback_page("[me](x)", tmp_path)
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    body = page.split("<body>", 1)[1]
    assert "<img" not in body and "<a href=\"http" not in body and "<h1>Score" not in body
    assert "&lt;img src=http://evil&gt;" in body and "[link](http://evil)" in body
