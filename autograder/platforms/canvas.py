"""Canvas: the class's grades as a CSV that Canvas's gradebook import takes as it is.

    export(DIR/gradebook.csv, roster.csv, canvas.csv)    roster.csv: the course's own Canvas export

The roster is the instructor's gradebook exported from Canvas (Grades, Export). Canvas writes it
as (canvas-lms, lib/gradebook_exporter.rb):

    Student,ID,SIS User ID,SIS Login ID,[Integration ID,][Root Account,]Section,<custom
    columns>,Quiz (111),...
    ,,,,,,Manual Posting,...                     only if an assignment posts its grades by hand
        Points Possible,,,,,10.00,...,(read only)
    "Lovelace, Ada",1001,S-1,ada,Section A,9.00,...

and its importer (app/models/gradebook_importer.rb) wants the same shape back: a header that
begins Student,ID, ends its identity columns with Section, a row whose first cell holds
"Points Possible", then one row per student, found by ID, SIS User ID, SIS Login ID or name; a
blank cell is no score. It reads UTF-8, comma- or semicolon-separated; a byte-order mark (which
Canvas's own export writes when the user asks for one) is tolerated. So canvas.csv keeps the
roster's identity columns, rows, separator and mark, and holds one assignment column.

Students are matched to roster rows by the Canvas user id of a bulk download (in each results.json),
which is final: a hand-in named after a classmate never claims or blocks a row an id matched. The
others are matched by login, else by name (Canvas names download files by the sortable name without
its punctuation, "lovelaceada"); a match must be unique. Anyone left over, on either side, is listed
(stderr and canvas-unmatched.csv), never guessed; a roster student without a grade gets a blank
cell, never a 0.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..grading.results import read
from ..reference import rubric
from ..reference.outputs import (
    check_replaceable,
    spreadsheet_cell,
    spreadsheet_value,
    write_atomically,
)

BOM = "\ufeff"
# the importer finds the row of points by this text in its first cell
POINTS_POSSIBLE = "Points Possible"
# the importer skips such a row
HIDDEN_ROW = re.compile(r"^\s*(Muted|Manual Posting.*)?\s*$", re.IGNORECASE)
TITLE_WITH_ID = re.compile(r"^(?P<title>.*) \((?P<id>\d+)\)$")  # Canvas's "micrograd (123456)"
NOT_A_ROSTER = (
    "{path} is not a Canvas gradebook export (its first row should begin Student,ID and name SIS"
    " Login ID and Section): in Canvas, open Grades, then Export, Export Entire Gradebook, and pass"
    " that file"
)
UNMATCHED_SUFFIX = "-unmatched.csv"


@dataclass(frozen=True)
class Roster:
    """A Canvas gradebook export: its identity columns, special rows and student rows, as
    written."""

    header: list[str]
    identity: int  # how many leading columns identify a student (Student ... Section)
    hidden: list[str] | None  # the "Manual Posting" row, if any
    points: list[str]
    students: list[list[str]]
    delimiter: str
    bom: bool

    def person(self, row: list[str]) -> tuple[str, str, str]:
        """(name as "Last, First", Canvas id, login) of a student row."""
        name = f"{row[0]}, {row[1]}" if self.header[0] == "LastName" else row[0]
        return name, row[self.header.index("ID")], row[self.header.index("SIS Login ID")]

    def column(self, name: str) -> int | None:
        """The index of the assignment column called `name` (or `name (id)`), None if it has
        none."""
        found = [
            index for index, title in enumerate(self.header) if index >= self.identity and
            (title == name or (match := TITLE_WITH_ID.match(title)) and match["title"] == name)
        ]
        if len(found) > 1:
            raise ValueError(
                f"the roster has {len(found)} columns named {name!r}: pass --assignment with its"
                f" id, as in {self.header[found[0]]!r}"
            )
        return found[0] if found else None


@dataclass(frozen=True)
class Unmatched:
    side: str  # "gradebook" (graded, no roster row) or "roster" (a roster row, no grade)
    name: str
    canvas_id: str
    why: str


@dataclass
class Exported:
    column: str
    roster_students: int
    side_file: Path
    matched: int = 0
    unmatched: list[Unmatched] = field(default_factory=list)

    def unmatched_lines(self) -> list[str]:
        return [
            f"{item.side} {item.name}" +
            (f" (Canvas id {item.canvas_id})" if item.canvas_id else "") + f": {item.why}"
            for item in self.unmatched
        ]


def export(gradebook: Path, roster_path: Path, out: Path, assignment: str = "micrograd",
           force: bool = False) -> Exported:
    """Write `out` (and its -unmatched.csv) from grade-all's `gradebook` and the course's Canvas
    `roster_path`."""
    roster = read_roster(roster_path)
    check_replaceable(out, force, _is_ours)
    column = roster.column(assignment)
    title = roster.header[column] if column is not None else assignment
    points = _points(roster, column, title)
    grades, ids = _read_gradebook(gradebook)
    matches, unmatched = match(list(grades), ids, roster)
    rows = [roster.header[:roster.identity] + [title]]
    if roster.hidden and column is not None and roster.hidden[column].strip():
        rows.append([""] * roster.identity + [roster.hidden[column]])
    rows.append(roster.points[:roster.identity] + [points])
    by_row = {index: student for student, index in matches.items()}
    rows += [row[:roster.identity] + [grades[by_row[index]] if index in by_row else ""]
             for index, row in enumerate(roster.students)]
    write_atomically(out, (BOM if roster.bom else "") + _csv(rows, roster.delimiter))
    side_file = out.with_name(out.stem + UNMATCHED_SUFFIX)
    # student text: never a formula
    write_atomically(
        side_file,
        _csv([["side", "name", "canvas_id", "why"]] +
             [[spreadsheet_cell(cell) for cell in (item.side, item.name, item.canvas_id, item.why)]
              for item in unmatched], ","))
    return Exported(title, len(roster.students), side_file, len(matches), unmatched)


# ---- the roster ----------------------------------------------------------------------------

def read_roster(path: Path) -> Roster:
    """The Canvas export at `path`; ValueError in one line if it is not one."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(
            f"{path} is not UTF-8: export it from Canvas again, and pass it unedited") from None
    bom, text = text.startswith(BOM), text.removeprefix(BOM)
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","  # as the importer decides
    rows = [
        row for row in csv.reader(io.StringIO(text), delimiter=delimiter)
        if any(cell.strip() for cell in row)
    ]
    identity = _identity_columns(rows[0]) if rows else None
    if identity is None:
        raise ValueError(NOT_A_ROSTER.format(path=path))
    header, rest = rows[0], [row + [""] * (len(rows[0]) - len(row)) for row in rows[1:]]
    points = next((row for row in rest if POINTS_POSSIBLE in row[0]), None)
    if points is None:
        raise ValueError(
            NOT_A_ROSTER.format(path=path).replace(
                "(its first row", "(it has no Points Possible row;"
                " its first row"))
    hidden = next(
        (row for row in rest if row is not points and all(HIDDEN_ROW.match(cell)
                                                          for cell in row)), None)
    students = [row for row in rest if row is not points and row is not hidden]
    return Roster(header, identity, hidden, points, students, delimiter, bom)


def _identity_columns(header: list[str]) -> int | None:
    """How many columns identify a student, as Canvas's importer reads them; None if not Canvas's
    header."""
    names = ("LastName", "FirstName", "ID") if header[:1] == ["LastName"] else ("Student", "ID")
    if tuple(header[:len(names)]
             ) != names or "SIS Login ID" not in header or "Section" not in header:
        return None
    return header.index("Section") + 1


def _points(roster: Roster, column: int | None, title: str) -> str:
    """The Points Possible cell: the roster's own, which must be what the kit grades out of."""
    if column is None:
        return f"{rubric.TOTAL_POINTS:g}"
    cell = roster.points[column].strip()
    try:
        worth = float(cell.replace(",", "."))
    except ValueError:
        raise ValueError(
            f"the roster's column {title!r} is not an assignment (its points: {cell!r}): pass"
            " --assignment with the name of the Canvas assignment") from None
    if worth != rubric.TOTAL_POINTS:
        raise ValueError(
            f"the Canvas assignment {title!r} is worth {cell} points and the kit grades out of"
            f" {rubric.TOTAL_POINTS}: make it worth {rubric.TOTAL_POINTS} in Canvas, export the"
            " roster again")
    return roster.points[column]


def _is_ours(path: Path) -> bool:
    """An earlier canvas.csv: a Canvas-shaped file with one column after the identity columns."""
    try:
        roster = read_roster(path)
    except (OSError, ValueError):
        return False
    return len(roster.header) == roster.identity + 1


def _csv(rows: list[list[str]], delimiter: str) -> str:
    text = io.StringIO()
    csv.writer(text, delimiter=delimiter, lineterminator="\n").writerows(rows)
    return text.getvalue()


# ---- the gradebook, and who is who ---------------------------------------------------------

def _read_gradebook(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(student -> the cell for Canvas, student -> Canvas user id): a grade only where grading
    finished."""
    try:
        rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    except OSError as error:
        raise FileNotFoundError(
            f"{path}: {error.strerror}: pass grade-all's DIR/gradebook.csv") from None
    if not rows or not {"student", "total", "status"} <= set(rows[0]):
        raise ValueError(f"{path} is not a gradebook grade-all wrote: pass its DIR/gradebook.csv")
    grades = {
        spreadsheet_value(row["student"]): row["total"] if row["status"] == "graded" else ""
        for row in rows
    }
    return grades, {
        student: user_id
        for student in grades if (user_id := _canvas_id(path.parent / student))
    }


def _canvas_id(folder: Path) -> str | None:
    try:
        return read(folder / "results.json").canvas_user_id
    except (OSError, ValueError):  # no results (an empty hand-in): matched by login or name
        return None


def name_key(name: str) -> str:
    """A name as Canvas writes it in file names: lower case, without punctuation or spaces."""
    return re.sub(r"[\W_]", "", name).lower()


def _roster_keys(name: str, canvas_id: str, login: str) -> dict[str, set[str]]:
    """A roster row's ways to be found: its id, its login, its name in both orders ("Last,
    First")."""
    name = name.removeprefix('="').removesuffix('"')  # Canvas quotes a name that starts with "="
    last, comma, first = name.partition(",")
    names = {name_key(name)} | ({name_key(first + last)} if comma else set())
    return {
        "id": {canvas_id.strip()} - {""},
        "login": {login.strip().casefold()} - {""},
        "name": names - {""}
    }


def match(students: list[str], ids: dict[str, str],
          roster: Roster) -> tuple[dict[str, int], list[Unmatched]]:
    """student -> roster row index, by Canvas id, else login, else name; a row claimed twice is no
    match."""
    people = [roster.person(row) for row in roster.students]  # (name, Canvas id, login)
    index: dict[tuple[str, str], list[int]] = {}
    for number, person in enumerate(people):
        for kind, keys in _roster_keys(*person).items():
            for key in keys:
                index.setdefault((kind, key), []).append(number)
    claims: dict[int, list[str]] = {}
    unmatched = []
    # Canvas's ids first: theirs are final
    by_id = sorted(students, key=lambda student: not ids.get(student))
    for student in by_id:
        found, why = _find(student, ids.get(student), index)
        if found is None:
            unmatched.append(Unmatched("gradebook", student, ids.get(student, ""), why))
        else:
            claims.setdefault(found, []).append(student)
    matches = {}
    for number, claimants in claims.items():
        with_id = [student for student in claimants if ids.get(student)]
        # a name (the student's to choose) never claims or blocks the row of a Canvas id (Canvas's)
        if with_id:
            unmatched += [
                Unmatched(
                    "gradebook", student, "",
                    f"its name matches the roster's {people[number][0]!r},"
                    " whose row is matched by its Canvas id") for student in claimants
                if student not in with_id
            ]
            claimants = with_id
        if len(claimants) == 1:
            matches[claimants[0]] = number
            continue
        unmatched += [
            Unmatched(
                "gradebook", student, ids.get(student, ""), f"{' and '.join(claimants)} all match"
                f" the roster's {people[number][0]!r}: rename the hand-ins")
            for student in claimants
        ]
    taken = set(matches.values())
    unmatched += [Unmatched("roster", name, canvas_id, "no grade in the gradebook: a blank cell")
                  for number, (name, canvas_id, _) in enumerate(people) if number not in taken]
    return matches, unmatched


def _find(student: str, canvas_id: str | None, index: dict[tuple[str, str],
                                                           list[int]]) -> tuple[int | None, str]:
    """The roster row of `student`, or None and why; a Canvas id is final (a namesake is another
    person)."""
    if canvas_id:
        found = index.get(("id", canvas_id), [])
        return (found[0], "") if found else (None, "its Canvas id is not in the roster")
    for kind, key in (("login", student.casefold()), ("name", name_key(student))):
        found = index.get((kind, key), [])
        if len(found) == 1:
            return found[0], ""
        if found:
            return None, f"{len(found)} roster students have this {kind}"
    return None, "no roster student has this Canvas id, login or name"
