"""OUT, the class run's folder: its files, the run's settings (OUT/.mgkit-run.json), and what in it
is mgkit's.

The run's settings (seed, late policy) are kept in OUT/.mgkit-run.json: a rerun that leaves them
out reuses them, one that changes them stops and says what differs (or, with `force`, grades
again under the new ones). A file in OUT that mgkit did not write is never replaced without `force`.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from ..grading.results import KIT, is_results_file
from .dashboard import FEEDBACK_PAGE, INDEX, is_dashboard_page
from .handins import TIMESTAMP, HandIn, parse_time
from .late import LatePolicy

RESULTS = "results.json"  # OUT/<student>/: the grade, and what the student reads of it
FEEDBACK = "feedback.md"
GRADEBOOK = "gradebook.csv"  # OUT/: the class's views
SUMMARY = "summary.txt"
MANIFEST = ".mgkit-run.json"  # OUT/: the run's settings


@dataclass(frozen=True)
class RunSettings:
    """What a class run is, as OUT/.mgkit-run.json records it."""

    run: str  # a fresh id for every new run (a first one, or --force): results carry it
    checks: str  # checks_fingerprint()
    seed: int | None = None  # None: a fresh seed for each student
    late: LatePolicy | None = None

    def to_json(self) -> str:
        late = {
            **asdict(self.late), "deadline": self.late.deadline.isoformat()
        } if self.late else None
        return json.dumps(
            {
                "kit": KIT,
                "run": self.run,
                "checks": self.checks,
                "seed": self.seed,
                "late": late
            }, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> RunSettings:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("kit") != KIT:
            raise ValueError("not written by mgkit")
        policy = data["late"]
        late = policy and LatePolicy(datetime.fromisoformat(policy["deadline"]),
                                     policy["percent_per_day"], policy["cap_percent"])
        return cls(str(data["run"]), str(data["checks"]), data["seed"], late or None)

    def stamp(self, handin: HandIn) -> tuple[tuple[str, str], ...]:
        """The provenance of a grade this run makes of `handin`."""
        return (("checks", self.checks), ("run", self.run), ("submission", handin.content))


def settings_for(out: Path, seed: int | None, late: LatePolicy | None, force: bool,
                 checks: str) -> RunSettings:
    """This run's settings: the recorded ones, unless it asks for others (which needs --force)."""
    recorded = recorded_settings(out)
    if recorded is None:
        return RunSettings(secrets.token_hex(8), checks, seed, late)
    differs = [
        f"{name} {asked} (it was graded with {was})"
        for name, asked, was in (("--seed", seed, recorded.seed), ("the late policy",
                                                                   _policy_text(late),
                                                                   _policy_text(recorded.late)))
        if asked is not None and asked != was
    ]
    if differs and not force:
        raise ValueError(
            f"{out} was graded with other settings: this run asks {'; '.join(differs)}. Leave them"
            " out to finish that run, or pass --force to grade everyone again with the new ones"
        )
    seed = recorded.seed if seed is None else seed
    late = recorded.late if late is None else late
    return RunSettings(secrets.token_hex(8) if force else recorded.run, checks, seed, late)


def recorded_settings(out: Path) -> RunSettings | None:
    try:
        return RunSettings.from_json((out / MANIFEST).read_text())
    except (OSError, ValueError, KeyError, TypeError):  # none, or not mgkit's: check_ours decides
        return None


def _policy_text(late: LatePolicy | None) -> str | None:
    return None if late is None else (f"--deadline {late.deadline.isoformat()} --late-penalty "
                                      f"{late.percent_per_day:g} --late-cap {late.cap_percent:g}")


def check_ours(out: Path, students: list[str], force: bool) -> None:
    """A one-line error, before anything is written, if a file in `out` this run would replace is
    not mgkit's."""
    if force:
        return
    planned = [out / MANIFEST, out / GRADEBOOK, out / SUMMARY, out / INDEX]
    planned += [
        out / student / name for student in students
        for name in (RESULTS, FEEDBACK, FEEDBACK_PAGE, TIMESTAMP)
    ]
    foreign = [path for path in planned if path.exists() and not is_ours(path)]
    if foreign:
        more = f" (and {len(foreign) - 1} more)" if len(foreign) > 1 else ""
        raise FileExistsError(
            f"{foreign[0]} exists and mgkit did not write it{more}: pass --force to replace"
            " it, or another --out")


def is_ours(path: Path) -> bool:
    """Whether `path` looks as mgkit writes it (each of the class's files has a form of its own)."""
    if path.name == RESULTS:
        return is_results_file(path)
    if path.name in (INDEX, FEEDBACK_PAGE):
        return is_dashboard_page(path)
    try:
        text = path.read_text(errors="replace")[:1000]
    except OSError:
        return False
    first = text.split("\n", 1)[0]
    if path.name == MANIFEST:
        return recorded_settings(path.parent) is not None
    if path.name == TIMESTAMP:
        try:
            return text.count("\n") == 1 and bool(parse_time(first, str(path)))
        except ValueError:
            return False
    return {GRADEBOOK: first.removeprefix(BOM).startswith("student,total,"),
            FEEDBACK: first.startswith("# micrograd: "),
            SUMMARY: first.startswith("task ") and "mean points" in first}.get(path.name, False)


BOM = "\ufeff"  # UTF-8's byte-order mark: Excel and LibreOffice then read the file as UTF-8
