"""A class run never loses or invents a grade: Ctrl-C, SIGKILL, a second run, files not mgkit's.

The runs here are the real command line (tests/fake_mgkit.py: the fake checks), each in a
process group of its own as a terminal starts it; six students whose every task takes 0.1 s.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fake_entry import JUDGED, ROOMY, engine_answering, write_submission
from test_handins import DEADLINE

from autograder.classrun.gradebook import (
    FEEDBACK,
    GRADEBOOK,
    MANIFEST,
    RESULTS,
    LatePolicy,
    grade_all,
)
from autograder.classrun.graders import _send
from autograder.cli import main
from autograder.reference.outputs import locked

FAKE_MGKIT = Path(__file__).with_name("fake_mgkit.py")
STUDENTS = 6
SEED = "17"
SLOW = engine_answering(
    "import time\ntime.sleep(0.1)\nif task_id == 'topo_sort' and seed % 2:\n    return 0")
LIMITS = ROOMY  # nothing here hangs


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    course = tmp_path_factory.mktemp("class")
    for number in range(STUDENTS):
        write_submission(course / f"student{number}", SLOW)
    return course


@pytest.fixture(scope="module")
def uninterrupted(course, tmp_path_factory) -> bytes:
    out = tmp_path_factory.mktemp("uninterrupted")
    run = start(course, out)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 0
    # Python 3.12+ warns when a process forks while a thread runs
    assert "multi-threaded" not in err
    return (out / GRADEBOOK).read_bytes()


def start(course: Path, out: Path, *options: str) -> subprocess.Popen:
    return subprocess.Popen([
        sys.executable,
        str(FAKE_MGKIT), "grade-all",
        str(course), "--out",
        str(out), "--seed", SEED, "--workers", "2", *options
    ], start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def graded(out: Path) -> list[Path]:
    return sorted(out.glob(f"*/{RESULTS}"))


def wait_until(condition, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def processes_of(run: subprocess.Popen, marker: str) -> list[str]:
    """Live processes of the run: its session (graders), or naming its folders (zygotes, their
    workers)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            stat = (proc / "stat").read_text()
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # state, ppid, pgrp, session, ...
        if fields[0] != "Z" and int(proc.name) != os.getpid() and (int(fields[3]) == run.pid or
                                                                   marker in cmdline):
            found.append(f"{proc.name}: {cmdline[:80]}")
    return found


@pytest.mark.slow  # a real class run, stopped and run again
# Ctrl-C: to the whole process group
@pytest.mark.parametrize(("signum", "send"), [(signal.SIGINT, os.killpg),
                                             (signal.SIGTERM, os.kill)], ids=["ctrl-c", "sigterm"])
def test_a_stopped_run_stops_at_once_and_a_rerun_gives_the_uninterrupted_gradebook(
        course, uninterrupted, tmp_path, signum, send):
    out = tmp_path / "out"
    run = start(course, out)
    wait_until(lambda: graded(out))
    send(run.pid, signum)
    at_the_signal = len(graded(out))
    assert run.wait(timeout=10) == 128 + signum
    err = run.stderr.read()
    done = graded(out)
    # at once: no student begun after the signal, at most the two graders' students finish (not a
    # wall
    # clock, which a loaded machine stretches)
    assert len(done) <= at_the_signal + 2
    assert "Traceback" not in err and err.rstrip().endswith(
        f"mgkit grade-all: stopped: {len(done)} of {STUDENTS} graded; run the same command again to"
        " finish"
    )
    assert 0 < len(done) < STUDENTS
    wait_until(lambda: not processes_of(run, str(course)), seconds=10)
    rows = (out / GRADEBOOK).read_text().splitlines()[1:]
    # the others say they are not graded, never 0
    assert sum(",graded,graded," in row for row in rows) == len(done)
    assert all(",,,,,,,,,,,not graded,not graded: the run was stopped" in row
               for row in rows if ",graded,graded," not in row)
    assert start(course, out).wait(timeout=60) == 0
    assert (out / GRADEBOOK).read_bytes() == uninterrupted


@pytest.mark.slow  # a real class run, killed and run again
def test_sigkill_leaves_nothing_running_nor_writing_and_a_rerun_finishes(
        course, uninterrupted, tmp_path, capsys):
    out = tmp_path / "out"
    run = start(course, out)
    wait_until(lambda: graded(out))
    # a second run on the same --out is refused while this one runs, in one line
    assert main(["grade-all", str(course), "--out", str(out)]) == 1
    why = capsys.readouterr().err.split("\n", 1)[1]  # after the line that names the course
    assert why == (f"mgkit grade-all: {out} is being written by another mgkit run (process"
                   f" {run.pid}): wait for it to finish, or pass another --out\n")
    run.kill()  # the main process alone: its graders and their zygotes must follow it
    run.wait()
    wait_until(lambda: not processes_of(run, str(course)), seconds=10)
    written = {path: path.stat().st_mtime_ns for path in out.rglob("*")}
    time.sleep(1.5)  # longer than a student takes: anyone still grading would have written by now
    assert {path: path.stat().st_mtime_ns for path in out.rglob("*")} == written
    # a killed run writes no gradebook: only finished grades exist
    assert not (out / GRADEBOOK).exists()
    assert start(course, out).wait(timeout=60) == 0  # the lock died with the run
    assert (out / GRADEBOOK).read_bytes() == uninterrupted


def test_a_grader_whose_run_was_stopped_as_it_answers_stops_quietly():
    # the race behind a traceback once seen under the one-line stop: the main process closed the
    # pipe while a grader sent a grade; the grader must stop without a word
    mine, theirs = multiprocessing.get_context("spawn").Pipe()
    mine.close()
    assert _send(theirs, "a grade") is False
    theirs.close()


def fast_class(folder: Path) -> Path:
    for student in ("ada", "ben"):
        write_submission(folder / student)
    return folder


def run_fast(submissions: Path, out: Path, **options):
    """A run of one grader: its settings and its OUT, not the stopping of parallel graders, are read
    here."""
    return grade_all(submissions, out, workers=1, entry=JUDGED, limits=LIMITS, **options)


def test_out_is_the_kits_a_file_mgkit_did_not_write_is_never_replaced_without_force(
        tmp_path, capsys):
    submissions, out = fast_class(tmp_path / "class"), tmp_path / "out"
    (out / "ada").mkdir(parents=True)
    (out / GRADEBOOK).write_text("name,grade\nada,A\n")
    (out / "ada" / FEEDBACK).write_text("Dear Ada, ...\n")
    with pytest.raises(
            FileExistsError,
            match=f"{out / GRADEBOOK} exists and mgkit did not write it \\(and 1 more\\)"):
        run_fast(submissions, out)
    assert (out / GRADEBOOK).read_text() == "name,grade\nada,A\n" and not (out / "ada" /
                                                                           RESULTS).exists()
    (tmp_path / "empty class" / "nobody").mkdir(parents=True)
    # the command: one line
    assert main(["grade-all", str(tmp_path / "empty class"), "--out", str(out)]) == 1
    assert len(capsys.readouterr().err.strip().splitlines()) == 2  # the course in use, then why
    run_fast(submissions, out, force=True)
    assert (out / GRADEBOOK).read_text(encoding="utf-8-sig").startswith("student,total,")
    assert (out / "ada" / FEEDBACK).read_text().startswith("# micrograd: `ada`")
    with locked(out), pytest.raises(FileExistsError, match="being written by another mgkit run"):
        run_fast(submissions, out)


def test_a_rerun_reuses_the_runs_settings_or_says_what_differs(tmp_path):
    submissions, out = fast_class(tmp_path / "class"), tmp_path / "out"
    policy = LatePolicy(DEADLINE, percent_per_day=10)
    run_fast(submissions, out, seed=5, late=policy)
    again = run_fast(submissions, out)  # no settings: the recorded ones, and nothing to grade
    assert sorted(again.resumed) == ["ada", "ben"] and "days_late" in (out / GRADEBOOK).read_text()
    with pytest.raises(ValueError, match="this run asks --seed 6 \\(it was graded with 5\\)"):
        run_fast(submissions, out, seed=6)
    with pytest.raises(ValueError, match="--late-penalty 20"):
        run_fast(submissions, out, late=LatePolicy(DEADLINE, percent_per_day=20))
    # the guide's regrade: a new run, the same settings
    regraded = run_fast(submissions, out, force=True)
    assert regraded.resumed == [] and {grade_.seed for grade_ in regraded.grades.values()} == {5}
    assert "days_late" in (out / GRADEBOOK).read_text() and '"percent_per_day": 10' in (
        out / MANIFEST).read_text()
    run_fast(submissions, out, force=True, seed=6)  # new settings, asked for with --force
    assert '"seed": 6' in (out / MANIFEST).read_text()
