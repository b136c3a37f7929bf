"""The processes that grade a class: `Graders(count, session)`, each grading one student at a time.

Why not a ProcessPoolExecutor: a run must be stoppable at once and must not outlive its main
process, and one grader's death must cost one student, not break the pool for everyone.

- Each grader is a fresh interpreter (multiprocessing's "spawn", on every Python): nothing is
  forked from a process whose threads (tqdm's monitor, say) may hold locks.
- A grader asks the kernel to kill it when the main process dies (PR_SET_PDEATHSIG), as its
  sandbox's zygote does for it, so a SIGKILL of the run ends every process of the run.
- Graders never write into --out: they send each grade back, and the main process alone
  writes, so nothing is written after it stopped.
- Ctrl-C reaches the terminal's whole process group: graders ignore it, the main process
  decides, and `close` kills them.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path

from mgkit_checks.course import Course, in_use, use

from ..grading.loop import grade
from ..grading.results import GradingResults
from ..grading.submission import Submission, SubmissionError
from ..grading.worker import ENTRY, TaskSandbox
from ..sandbox import Limits, linux

STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}
GRACE_SECONDS = 2.0  # for an idle grader to close its sandbox at the end of a run


@dataclass(frozen=True)
class Session:
    """What every grader needs to know, sent to it once."""

    seed: int | None
    limits: Limits
    hide: tuple[Path, ...]  # what sandbox workers see as empty: every student's hand-in and results
    scratch: Path | None = None  # the run's folder for private copies (submission.run_scratch)
    # what the sandbox's workers run (a test's fake entry; the judge is always the kit's)
    entry: str = ENTRY
    # a module-level function: the graders import it by name
    grade: Callable[..., GradingResults] = grade
    # a spawned grader finds no course of its own: it is told
    course: Course = field(default_factory=in_use)


Answer = GradingResults | str  # a grade, or why there is none
Work = Path | Submission  # a hand-in's path, or its files as the main process read them


class Graders:
    """`count` grading processes; `grade(todo)` yields (student, answer) as each is done."""

    def __init__(self, count: int, session: Session):
        self._context = multiprocessing.get_context("spawn")
        self._session = session
        self._graders: dict[Connection, multiprocessing.process.BaseProcess] = {}
        for _ in range(count):
            self._start()

    def __enter__(self) -> Graders:
        return self

    def __exit__(self, exc_type: type | None, *exc_info: object) -> None:
        self.close(graceful=exc_type is None)

    def grade(self, todo: dict[str, Work]) -> Iterator[tuple[str, Answer]]:
        waiting = list(todo.items())
        busy: dict[Connection, str] = {}
        while waiting or busy:
            for connection in [c for c in self._graders if c not in busy][: len(waiting)]:
                student, path = waiting.pop(0)
                connection.send(path)
                busy[connection] = student
            for connection in wait(list(busy)):
                student = busy.pop(connection)
                yield student, self._answer(connection)

    def close(self, graceful: bool = False) -> None:
        """Stop every grader: idle ones, when `graceful`, by closing their pipe (they tidy up their
        sandbox); otherwise killed at once, their zygotes following them. Nothing is left.
        Killed before their pipes close: a busy grader must not find its pipe gone while it
        sends a grade (its BrokenPipeError would print a traceback under the one-line stop)."""
        if graceful:
            for connection in self._graders:
                connection.close()
        for process in self._graders.values():
            process.join(GRACE_SECONDS if graceful else 0)
            process.kill()
            process.join()
        for connection in self._graders:
            connection.close()
        self._graders.clear()

    def _answer(self, connection: Connection) -> Answer:
        try:
            return connection.recv()
        # the grader died: this student is not graded, a new grader takes over
        except (EOFError, OSError):
            process = self._graders.pop(connection)
            process.join()
            connection.close()
            self._start()
            return f"its grading process stopped (exit code {process.exitcode})"

    def _start(self) -> None:
        mine, theirs = self._context.Pipe()
        process = self._context.Process(target=_serve, args=(theirs, self._session, os.getpid()),
                                        daemon=True, name="mgkit-grader")
        # blocked while it starts, so that it inherits them blocked: a Ctrl-C during its imports
        # cannot raise KeyboardInterrupt in it; the main process gets it once they are unblocked
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        theirs.close()
        self._graders[mine] = process


def _serve(connection: Connection, session: Session, parent: int) -> None:
    """A grader: one sandbox for all its students, one grade per request, until the pipe closes."""
    _die_with(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process decides what Ctrl-C does
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    use(session.course)
    with TaskSandbox(session.limits, session.entry, session.course, hide=session.hide) as sandbox:
        sandbox.start()  # its zygote boots while the main process hands out the work
        while True:
            try:
                path = connection.recv()
            except (EOFError, OSError):
                return
            if not _send(connection, _grade_one(path, session, sandbox)):
                return


def _send(connection: Connection, answer: Answer) -> bool:
    """Send a grade back; False, quietly, if the main process has stopped the run: nobody is
    listening."""
    try:
        connection.send(answer)
    except OSError:
        return False
    return True


def _grade_one(work: Work, session: Session, sandbox: TaskSandbox) -> Answer:
    try:
        return session.grade(work, session.seed, sandbox=sandbox, scratch=session.scratch)
    except (SubmissionError, OSError) as error:  # grade() fails closed on everything else itself
        return str(error) or type(error).__name__


def _die_with(parent: int) -> None:
    """SIGKILL this process when the main process dies; exit now if it already has."""
    try:
        linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass  # not Linux: the pipe to the main process still ends this grader once it is idle
    if os.getppid() != parent:
        os._exit(1)
