"""`grade-all` on an nbgrader course: the kit's grades recorded in nbgrader's own gradebook.

`nbgrader autograde` spends seconds on each notebook running it in a kernel, before its check
cells ask the kit for their verdicts (nbgrader.py). `mgkit grade-all COURSE` has graded every
notebook of `submitted/` in parallel; then, for each student it graded, `record` runs nbgrader's
own Autograde converter with one step changed: Execute (and hidden_verdicts) become the kit's
verdicts, written into the check cells' outputs as hidden_verdicts writes them after the kernel.
The rest is nbgrader's code, so gradebook.db holds what `nbgrader autograde --force` writes:

- the student (created if new) and the submission, its time from nbgrader's
  `submitted/<student>/<assignment>/timestamp.txt`, its late penalty from nbgrader's plugin and
  the assignment's due date;
- one Grade per grade cell, its auto_score scored by nbgrader's SaveAutoGrades from the cell's
  output (the task's points when it passed, 0 when it failed); a manual score, extra credit or
  comment a grader gave stays as it was (the cell is then marked for review, as autograde does);
- `autograded/<student>/<assignment>/`: the notebook with its locked cells restored and each
  check cell's verdict, beside the student's other files, which `nbgrader generate_feedback`
  and formgrader's grading page read. The student's own cells are not run, so they have no
  outputs there (a plot the student made is not in the feedback).

A rerun records every graded student again, as `autograde --force` would: the same grade gives
the same points, and nothing a grader wrote is lost.
"""

from __future__ import annotations

import copy
import logging
import queue
import threading
import warnings
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from traitlets.config import Config, PyFileConfigLoader

from ..reference import rubric
from .nbgrader import write_verdicts

# nbgrader itself is imported only for a course with a gradebook: it takes two seconds
if TYPE_CHECKING:
    from nbgrader.api import Gradebook
    from nbgrader.coursedir import CourseDirectory

CONFIG = "nbgrader_config.py"
# nbgrader's CourseDirectory.submitted_directory, as the kit's hand-ins read it
SUBMITTED = "submitted"
GRADEBOOK_FILE = "gradebook.db"
# the kernel: replaced
EXECUTE = {"nbgrader.preprocessors.Execute", "nbgrader.preprocessors.execute.Execute"}
# the kit's step after the kernel: not needed
HIDDEN_VERDICTS = "autograder.platforms.nbgrader.hidden_verdicts"


def find_course(folder: Path) -> Course | None:
    """The nbgrader course `grade-all FOLDER` grades (FOLDER, or the course whose submitted/ FOLDER
    is), if it has a gradebook: without one (no `nbgrader generate_assignment` yet) there is nothing
    to record."""
    for root in (folder, folder.parent if folder.name == SUBMITTED else None):
        marked = root is not None and ((root / CONFIG).is_file() or
                                       (root / GRADEBOOK_FILE).is_file())
        if marked and (root / SUBMITTED).is_dir():
            course = Course(root.resolve(), _config(root.resolve()))
            return course if course.has_gradebook() else None
    return None


@dataclass(frozen=True)
class Course:
    """An nbgrader course whose gradebook holds the assignments to record."""

    root: Path
    config: Config  # nbgrader's settings: the user's and the system's files, then the course's own

    def has_gradebook(self) -> bool:
        """A gradebook other than SQLite's file is taken to exist: opening it says if not."""
        db_url = self.config.CourseDirectory.get(
            "db_url") or f"sqlite:///{self.root / GRADEBOOK_FILE}"
        return not db_url.startswith("sqlite:///") or Path(db_url.removeprefix("sqlite:///")).is_file()

    def coursedir(self, assignment: str = "", student: str = "") -> CourseDirectory:
        from nbgrader.coursedir import CourseDirectory

        coursedir = CourseDirectory(config=self.config)
        if not self.config.CourseDirectory.get("root"):  # nbgrader's default: the folder it runs in
            coursedir.root = str(self.root)
        coursedir.assignment_id, coursedir.student_id = assignment, student
        return coursedir

    def gradebook(self) -> Gradebook:
        from nbgrader.api import Gradebook

        coursedir = self.coursedir()
        return Gradebook(coursedir.db_url, coursedir.course_id)


def check_course(course: Course, assignments: set[str]) -> None:
    """ValueError, in a line that says what to run, unless the gradebook holds `assignments` and
    each of their grade cells is a kit task."""
    with course.gradebook() as gradebook:
        for name in sorted(assignments):
            _check_assignment(gradebook, name, course.root)


def _config(root: Path) -> Config:
    """nbgrader's own order: the system's and the user's nbgrader_config.py, then the course's,
    which wins."""
    from jupyter_core.paths import jupyter_config_path

    config = Config()
    for folder in [*reversed(jupyter_config_path()), str(root)]:
        if (Path(folder) / CONFIG).is_file():
            config.merge(PyFileConfigLoader(CONFIG, folder).load_config())
    return config


def _check_assignment(gradebook: Gradebook, name: str, root: Path) -> None:
    from nbgrader.api import MissingEntry

    try:
        assignment = gradebook.find_assignment(name)
    except MissingEntry:
        raise ValueError(
            f"{name} is not in {root}'s gradebook: run `nbgrader generate_assignment {name}` in"
            f" {root} first (nbgrader autograde needs it too)"
        ) from None
    for notebook in assignment.notebooks:
        # a written answer: graded by hand
        answers = {cell.name for cell in notebook.solution_cells}
        foreign = [
            cell.name for cell in notebook.grade_cells if cell.cell_type == "code" and
            cell.name not in rubric.TASK_IDS and cell.name not in answers
        ]
        if foreign:
            raise ValueError(
                f"{name}/{notebook.name}.ipynb has grade cells that are no kit task"
                f" ({', '.join(foreign)}): only a kernel can score them; grade this assignment"
                f" with `nbgrader autograde {name}`")


class Recorder:
    """Records grades in nbgrader's gradebook from a thread of the main process, while the graders
    grade.

    The main process only waits for the graders' answers meanwhile: nbgrader's import (seconds),
    the check of the gradebook and each student's converter run then. `ready()` says whether the
    gradebook can take the grades (ValueError, before any grading, if not); `add` queues a
    finished grade; `finish` records what is queued (or, when the run stopped, drops it) and
    returns student -> why they were not recorded.
    """

    def __init__(self, course: Course, assignments: set[str]):
        self.course = course
        # what the kit's verdict step reads, filled as grades come
        self._grades: dict[str, dict[str, Any]] = {}
        self._queue: queue.Queue[tuple[str, Path] | None] = queue.Queue()
        self._checked = threading.Event()
        self._error: Exception | None = None
        self._stopped = False
        self.failed: dict[str, str] = {}
        self._thread = threading.Thread(target=self._run, args=(assignments, ), daemon=True,
                                        name="mgkit-nbgrader")
        self._thread.start()

    def ready(self) -> None:
        self._checked.wait()
        if self._error:
            raise self._error

    def add(self, student: str, notebook: Path, results: dict[str, Any]) -> None:
        self._grades[student] = results
        self._queue.put((student, notebook))

    def finish(self, stopped: bool = False) -> dict[str, str]:
        # the rest of the queue is dropped: the rerun that finishes the run records it
        self._stopped = stopped
        self._queue.put(None)
        self._thread.join()
        return self.failed

    def _run(self, assignments: set[str]) -> None:
        from sqlalchemy.exc import SAWarning

        try:
            check_course(self.course, assignments)
            config = _kit_verdicts_config(self.course.config, self._grades)
        except Exception as error:  # told to the main process by ready()
            if not isinstance(error, ValueError):
                error = ValueError(f"{self.course.root}: {error}")
            self._error = error
            return
        finally:
            self._checked.set()
        # about nbgrader's session use; autograde shows them
        warnings.filterwarnings("ignore", category=SAWarning)
        while (item := self._queue.get()) is not None:
            if not self._stopped:
                self._record(config, *item)

    def _record(self, config: Config, student: str, notebook: Path) -> None:
        assignment = _assignment_of(self.course, student, notebook)
        why = _autograde(self.course, config, assignment, student) if assignment else \
            f"{notebook} is not submitted/{student}/<assignment>/<notebook>.ipynb"
        if why:
            self.failed[student] = why


def _kit_verdicts_config(config: Config, grades: dict[str, dict[str, Any]]) -> Config:
    """The course's config, its autograde steps with the kernel's replaced by the kit's verdicts."""
    from nbgrader.converters import Autograde

    steps = config.Autograde.get(
        "autograde_preprocessors") or Autograde.autograde_preprocessors.default_value
    kit = partial(_kit_verdicts, grades)
    ours = copy.deepcopy(config)
    ours.Autograde.autograde_preprocessors = [
        kit if _name(step) in EXECUTE else step for step in steps if _name(step) != HIDDEN_VERDICTS
    ]
    if kit not in ours.Autograde.autograde_preprocessors:
        raise ValueError(
            "the course's Autograde.autograde_preprocessors has no Execute step for the kit to"
            " replace"
        )
    return ours


def _name(step: Any) -> str:
    """A preprocessor's dotted name, whether the config gives it as text, a class or a function."""
    return step if isinstance(step, str) else f"{step.__module__}.{step.__qualname__}"


def _kit_verdicts(grades: dict[str, dict[str, Any]], notebook: Any,
                  resources: dict) -> tuple[Any, dict]:
    """Autograde's step where the kernel ran: each check cell's outputs from the student's kit
    grade."""
    return write_verdicts(notebook, grades[resources["nbgrader"]["student"]]), resources


def _assignment_of(course: Course, student: str, notebook: Path) -> str | None:
    """The assignment of submitted/<student>/<assignment>/<notebook>.ipynb, the only shape autograde
    reads."""
    coursedir = course.coursedir()
    submitted = (Path(coursedir.root) / coursedir.submitted_directory / student).resolve()
    inside = notebook.suffix == ".ipynb" and notebook.parent.parent.resolve() == submitted
    return notebook.parent.name if inside else None


def _autograde(course: Course, config: Config, assignment: str, student: str) -> str | None:
    """nbgrader's Autograde converter for one student, with the kit's steps; None, or its first
    error."""
    errors = _Errors()
    converter = _one_pass_autograde()(coursedir=course.coursedir(assignment, student),
                                      config=config)
    # as `autograde --force`: the autograded copy is rewritten, manual grades stay
    converter.force = True
    converter.log = logging.getLogger("mgkit.nbgrader")
    converter.log.propagate, converter.log.handlers = False, [errors]
    try:
        converter.start()
    # nbgrader logs the cause, then raises NbGraderException; both say what to do
    except Exception as error:
        return errors.first or str(error) or type(error).__name__
    return None


@cache
def _one_pass_autograde() -> type:
    """nbgrader's Autograde converter, its two passes made one: autograde writes the sanitized
    notebook out and reads it back for the kernel; with no kernel to run, its steps run on the
    notebook in memory, sanitizing first, each as nbgrader defines it. The sanitizing list's last
    step, the metadata check, is left to the autograde list's own last step, which checks the same
    notebook."""
    from nbconvert.writers import FilesWriter
    from nbgrader.converters import Autograde
    from nbgrader.converters.base import BaseConverter
    from nbgrader.preprocessors import CheckCellMetadata

    class OnePassAutograde(Autograde):
        def _init_preprocessors(self) -> None:
            self.exporter._preprocessors = []
            sanitize = [
                step for step in self.sanitize_preprocessors if step is not CheckCellMetadata
            ]
            for step in [*sanitize, *self.autograde_preprocessors]:
                self.exporter.register_preprocessor(step)

        def start(self) -> None:
            """BaseConverter.start without its chdir into the course, which would move the main
            thread's relative paths: nbgrader's own paths are absolute
            (CourseDirectory.format_path)."""
            self.init_notebooks()
            self.writer = FilesWriter(parent=self, config=self.config)
            self.exporter = self.exporter_class(parent=self, config=self.config)
            self.convert_notebooks()

        def convert_single_notebook(self, notebook_filename: str) -> None:
            # reads submitted/, writes autograded/: the `_sanitizing` pass's folders
            self._init_preprocessors()
            BaseConverter.convert_single_notebook(self, notebook_filename)

    return OnePassAutograde


class _Errors(logging.Handler):
    """The first error nbgrader logged, in one line."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.first: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if self.first is None:
            self.first = " ".join(record.getMessage().split())[:300]
