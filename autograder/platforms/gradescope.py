"""Gradescope: `mgkit export gradescope` builds the autograder zip; `run` grades inside Gradescope.

The zip follows Gradescope's autograder specification: `setup.sh` and `run_autograder` at its
root, the whole unpacked at /autograder/source; `run_autograder` grades /autograder/submission
into /autograder/results/results.json.

    setup.sh                   once, when Gradescope builds the image: a virtual environment
                               with numpy, matplotlib and graphviz (what student code may
                               import: mgkit_checks/world.py)
    run_autograder             for every submission:
                               `python -m autograder.platforms.gradescope /autograder`
    requirements.txt           what grading imports
    kit/autograder/            the kit, its hidden checks included: they are the grader
    kit/mgkit_checks/          the checks the grader runs (the students have them too)
    kit/solutions/micrograd/   the STARTER files, not the solutions

No solution is shipped. Gradescope grades as root in a Docker container, where the sandbox's
layers (namespaces, a read-only filesystem that hides the kit) are only as available as Docker
allows; without them a student's code can read any file of the image. The grader needs the
reference for two things only: the starter of a missing file (shipped as the starter itself,
where the kit looks for the reference) and the solution lines it redacts from feedback (with no
solution in the image, there is nothing to redact).

Visibility: each task's entry gets the visibility chosen at export, by default
"after_published", so the hidden checks' feedback (and, Gradescope says, the total) stays hidden
until the instructor publishes grades. The top-level output, which students see at once, says
only that the submission was graded and what the grader had to do about it ("engine.py is
missing"), so that a student can fix a broken upload before the deadline.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mgkit_checks.course import FILE_NAME, VISIBILITIES  # Gradescope's, most used first
from mgkit_checks.world import requirements

from ..grading.loop import grade
from ..grading.results import GradingResults, render_table
from ..grading.submission import PACKAGE, SubmissionError, starter, write_package
from ..reference import rubric
from ..reference.outputs import check_replaceable, write_atomically
from ..reference.solution import MODULES

ROOT_VARIABLE = "MGKIT_AUTOGRADER_ROOT"  # stands in for /autograder when a test runs the scripts
KIT = "kit"  # the zip's folder holding the kit: /autograder/source/kit on Gradescope
PACKAGE_DIR = Path(__file__).resolve().parents[1]  # autograder/
# the grader, and the checks it runs
KIT_PACKAGES = (PACKAGE_DIR, PACKAGE_DIR.parent / "mgkit_checks")
ZIP_DATE = (2020, 1, 1, 0, 0, 0)  # every entry's date, so that the same kit gives the same zip
EXECUTABLE, READABLE = 0o755, 0o644
PENDING = (
    "Your submission was received and graded. Each task's score and feedback appear here when"
    " grades are published."
)
PREVIEW = (
    "`pytest` in your copy of the starter runs the public checks: a preview of the same tasks."
)

SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image.
set -euo pipefail
root="${MGKIT_AUTOGRADER_ROOT:-/autograder}"
python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))' \\
    || { echo "mgkit needs Python 3.10 or newer: choose a newer base image in the autograder" \\
              "settings" >&2; exit 1; }
if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    apt-get install -y --no-install-recommends python3-venv
fi
# the image's own packages stay visible: numpy, if the image has it, is not installed twice
python3 -m venv --system-site-packages "$root/venv"
"$root/venv/bin/pip" install --disable-pip-version-check --no-cache-dir \\
    -r "$root/source/requirements.txt"
# the kit, hidden checks included, for root alone: a worker that runs as a user of its own cannot
# read it
chmod -R go-rwx "$root/source"
# a first grade, of the untouched starter: a broken image fails here, at upload, not on a student's
# work
cd "$root/source/kit"  # python -m imports from the working folder first: make it the kit's
"$root/venv/bin/python" -m autograder.platforms.gradescope --self-check
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this for every submission: /autograder/submission ->
# /autograder/results/results.json
set -euo pipefail
root="${{MGKIT_AUTOGRADER_ROOT:-/autograder}}"
cd "$root/source/kit"  # python -m imports from the working folder first: make it the kit's
exec "$root/venv/bin/python" -m autograder.platforms.gradescope "$root" --visibility {visibility}
"""

# what grading imports, and the libraries student code may import (those the student kit installs)
# tomli: 3.10
REQUIREMENTS = "".join(f"{line}\n"
                       for line in (*requirements(), "tomli>=1.1; python_version < '3.11'"))

STARTERS_NOTE = """\
# Starter files, not solutions

The grader grades a missing file as the untouched starter, and reads the starter from here,
where the kit keeps its reference. This autograder ships no solution: see
autograder/platforms/gradescope.py.
"""


# ---- the zip --------------------------------------------------------------------------------

def export(out: Path, visibility: str | None = None, force: bool = False) -> list[str]:
    """Write the autograder zip to `out` (atomically); the names it holds, in order."""
    visibility = visibility or VISIBILITIES[0]
    if visibility not in VISIBILITIES:
        raise ValueError(f"visibility {visibility!r}: use one of {', '.join(VISIBILITIES)}")
    check_replaceable(out, force, _is_ours)
    files = zip_files(visibility)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            text, mode = files[name]
            entry = zipfile.ZipInfo(name, ZIP_DATE)
            entry.external_attr = mode << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, text)
    write_atomically(out, buffer.getvalue())
    return sorted(files)


def zip_files(visibility: str) -> dict[str, tuple[str, int]]:
    """name in the zip -> (text, mode): the two scripts, the requirements, the kit and the
    starters."""
    files = {"setup.sh": (SETUP_SH, EXECUTABLE),
             "run_autograder": (RUN_AUTOGRADER.format(visibility=visibility), EXECUTABLE),
             "requirements.txt": (REQUIREMENTS, READABLE),
             f"{KIT}/solutions/README.md": (STARTERS_NOTE, READABLE),
             # the course in use
             f"{KIT}/{FILE_NAME}": (rubric.COURSE.path.read_text(encoding="utf-8"), READABLE)}
    for path in sorted(path for package in KIT_PACKAGES for path in package.rglob("*")):
        relative = path.relative_to(PACKAGE_DIR.parent)
        if path.is_file() and "__pycache__" not in relative.parts and path.suffix != ".pyc":
            files[f"{KIT}/{relative.as_posix()}"] = (path.read_text(), READABLE)
    for module in ("__init__", *MODULES):
        files[f"{KIT}/solutions/{PACKAGE}/{module}.py"] = (starter(module), READABLE)
    return files


def _is_ours(path: Path) -> bool:
    """Whether `path` is an autograder zip that mgkit exported (which a new export may replace)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return {"run_autograder",
                    f"{KIT}/autograder/platforms/gradescope.py"} <= set(archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


# ---- inside Gradescope ----------------------------------------------------------------------

def run(root: Path, visibility: str = VISIBILITIES[0], seed: int | None = None) -> GradingResults:
    """Grade root/submission into root/results/results.json, as Gradescope expects."""
    folder = root / "submission"
    try:
        results = grade(submission_in(folder), seed)
    except SubmissionError as error:  # no submission folder at all: still a valid results.json
        results = GradingResults.not_graded(str(error), seed or 0)
    (root / "results").mkdir(parents=True, exist_ok=True)
    text = json.dumps(gradescope_results(results, visibility), indent=2, ensure_ascii=False) + "\n"
    write_atomically(root / "results" / "results.json", text)
    return results


def submission_in(folder: Path) -> Path:
    """What to grade in Gradescope's submission folder: the folder, or its one notebook.

    Students upload engine.py, nn.py and train.py (loose or in micrograd/, by hand or from
    GitHub), or the notebook alone. The folder is graded when it holds any of the modules.
    """
    holds_modules = any(
        (folder / PACKAGE / f"{module}.py").exists() or (folder / f"{module}.py").exists()
        for module in MODULES)
    notebooks = sorted(folder.glob("*.ipynb")) + sorted(folder.glob("*/*.ipynb"))
    return notebooks[0] if not holds_modules and len(notebooks) == 1 else folder


def gradescope_results(results: GradingResults, visibility: str) -> dict[str, Any]:
    """`mgkit grade`'s results.json, with every task at `visibility` and a top-level output to
    match."""
    data = results.to_gradescope()
    for test in data["tests"]:
        test["visibility"] = visibility
    # the summary holds the score: keep it for publication
    if visibility != "visible" and results.graded:
        data["output"] = "\n".join([PENDING, *(f"Note: {note}" for note in results.notes), PREVIEW])
    data["stdout_visibility"] = "hidden"  # the log holds the per-task table: for the instructor
    return data


def self_check() -> bool:
    """Grade the untouched starter: every task graded, none passed. What setup.sh runs once."""
    with tempfile.TemporaryDirectory(prefix="mgkit-self-check-") as temporary:
        package = Path(temporary) / "starter" / PACKAGE
        write_package(package)
        results = grade(package.parent, seed=0)
    print(render_table(results))
    return results.graded and results.score == 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m autograder.platforms.gradescope",
        description="Grade a Gradescope submission (what run_autograder runs).")
    parser.add_argument("root", type=Path, nargs="?", default=Path("/autograder"),
                        help="Gradescope's /autograder")
    parser.add_argument("--visibility", choices=VISIBILITIES, default=VISIBILITIES[0])
    parser.add_argument("--seed", type=int, help="the hidden checks' seed (default: a fresh one)")
    parser.add_argument("--self-check", action="store_true",
                        help="grade the untouched starter; exit 1 unless all 0")
    args = parser.parse_args(argv)
    print(f"mgkit: the kit at {PACKAGE_DIR.parent}")  # stdout is the instructor's log on Gradescope
    if args.self_check:
        return 0 if self_check() else 1
    print(render_table(run(args.root, args.visibility, args.seed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
