"""mgkit export canvas: the class's grades in the course's own Canvas gradebook export, as its
import reads them."""

from __future__ import annotations

import csv
import io
import json

import pytest
from fake_entry import JUDGED, ROOMY, engine_answering, write_submission

from autograder.classrun.gradebook import GRADEBOOK, RESULTS, grade_all
from autograder.cli import main
from autograder.platforms.canvas import HIDDEN_ROW, POINTS_POSSIBLE
from autograder.reference.rubric import BY_ID, TOTAL_POINTS

LIMITS = ROOMY  # nothing here hangs
WRONG_ZERO_GRAD = engine_answering("if task_id == 'zero_grad':\n    return -1")
ADA = f"{TOTAL_POINTS - BY_ID['zero_grad'].points:g}"  # all but zero_grad's points
FULL = f"{TOTAL_POINTS:g}"
# As Canvas exports a gradebook (canvas-lms lib/gradebook_exporter.rb): the identity columns, the
# assignments as "title (id)", the read-only totals; a "Manual Posting" row, then Points Possible;
# the Test Student last. Zoë's name is UTF-8, with no byte-order mark (Canvas's default). The
# assignment is worth the course's total, as Canvas prints it.
ROSTER = f"""\
Student,ID,SIS User ID,SIS Login ID,Section,Quiz 1 (111),micrograd (123456),Current Score,\
Unposted Current Score,Final Score,Unposted Final Score
,,,,,,Manual Posting,,,,
    Points Possible,,,,,10.00,{TOTAL_POINTS:.2f},(read only),(read only),(read only),(read only)
"Lovelace, Ada",1001,S-1,ada,Section A,9.00,,90.00,90.00,90.00,90.00
"Brontë, Zoë",1002,S-2,zbronte,Section A,10.00,,100.00,100.00,100.00,100.00
"Hopper, Grace",1003,S-3,ghopper,Section B,8.00,,80.00,80.00,80.00,80.00
"Ritchie, Dennis",1004,S-4,dmr,Section B,7.00,,70.00,70.00,70.00,70.00
"Turing, Alan",1005,S-5,aturing,Section B,6.00,,60.00,60.00,60.00,60.00
"Student, Test",1006,,8f2c1d,Section A,,,,,,
"""


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """A class as an instructor collects it: Zoë from Canvas's bulk download (her file named by an
    older name: only her id matches), ada by login, Grace Hopper by name, dmr empty, mallory not
    enrolled."""
    course, out = tmp_path_factory.mktemp("class"), tmp_path_factory.mktemp("graded")
    (course / "zoe_1002_77001_engine.py").write_text(engine_answering("pass"))
    write_submission(course / "ada", WRONG_ZERO_GRAD)
    write_submission(course / "Grace Hopper")
    (course / "dmr").mkdir()
    write_submission(course / "mallory")
    grade_all(course, out, workers=1, seed=3, entry=JUDGED, limits=LIMITS)
    return out


def export(tmp_path, graded, roster_text: str, *options: str, encoding: str = "utf-8") -> int:
    roster = tmp_path / "roster.csv"
    roster.write_bytes(roster_text.encode(encoding))
    return main([
        "export", "canvas", "--gradebook",
        str(graded / GRADEBOOK), "--roster",
        str(roster), "--out",
        str(tmp_path / "canvas.csv"), *options
    ])


def read_as_canvas(path, delimiter=","):
    """The rows as Canvas's importer reads them: the header, the special rows, students by ID."""
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8")), delimiter=delimiter))
    header, special, students = rows[0], [], {}
    for row in rows[1:]:
        if POINTS_POSSIBLE in row[0] or all(HIDDEN_ROW.match(cell) for cell in row):
            special.append(row)
        else:
            students[row[1]] = row
    return header, special, students


def test_the_grades_land_in_the_rosters_own_column_matched_by_id_login_and_name(
        tmp_path, graded, capsys):
    assert json.loads(
        (graded / "zoe" / RESULTS).read_text())["extra_data"]["canvas_user_id"] == "1002"
    assert export(tmp_path, graded, ROSTER) == 0
    header, special, students = read_as_canvas(tmp_path / "canvas.csv")
    assert header == [
        "Student", "ID", "SIS User ID", "SIS Login ID", "Section", "micrograd (123456)"
    ]
    assert special == [["", "", "", "", "", "Manual Posting"],
                       ["    Points Possible", "", "", "", "", f"{TOTAL_POINTS:.2f}"]]
    assert {canvas_id: row[-1] for canvas_id, row in students.items()} == {
        # no hand-in: blank, not 0
        "1001": ADA, "1002": FULL, "1003": FULL, "1004": "", "1005": "", "1006": ""}
    # copied as it was
    assert students["1002"][:5] == ["Brontë, Zoë", "1002", "S-2", "zbronte", "Section A"]
    # as the roster: no mark
    assert not (tmp_path / "canvas.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    captured = capsys.readouterr()
    assert "4 students matched to the roster's 6, in column 'micrograd (123456)'" in captured.out
    unmatched = list(csv.DictReader(io.StringIO((tmp_path / "canvas-unmatched.csv").read_text())))
    assert [(row["side"], row["name"]) for row in unmatched] == [
        ("gradebook", "mallory"), ("roster", "Turing, Alan"), ("roster", "Student, Test")]
    assert (
        "mgkit export: unmatched: gradebook mallory: no roster student has this Canvas id, login or"
        " name"
        in captured.err
    )


def test_an_empty_hand_in_matched_by_its_login_in_any_case_is_a_blank_cell(tmp_path, graded):
    roster = ROSTER.replace("Ritchie, Dennis\",1004,S-4,dmr", "Ritchie, Dennis\",1004,S-4,DMR")
    assert export(tmp_path, graded, roster) == 0
    _, _, students = read_as_canvas(tmp_path / "canvas.csv")
    unmatched = (tmp_path / "canvas-unmatched.csv").read_text()
    # matched, no grade
    assert students["1004"][-1] == "" and "Ritchie" not in unmatched and "dmr" not in unmatched


def test_a_new_assignment_a_semicolon_roster_with_a_mark_and_a_namesake(tmp_path, graded):
    roster = ROSTER.replace("micrograd (123456)", "Lab 2 (999)").replace(",Manual Posting,", ",,")
    # two Grace Hoppers: neither is guessed
    roster = roster.replace('"Turing, Alan",1005', '"Hopper, Grace",1005')
    semicolons = "\ufeff" + "".join(_semicolons(line) for line in roster.splitlines(keepends=True))
    assert export(tmp_path, graded, semicolons, "--assignment", "micrograd lab") == 0
    assert (tmp_path / "canvas.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    header, special, students = read_as_canvas(tmp_path / "canvas.csv", ";")
    # Canvas creates the new assignment
    assert header[0] == "\ufeffStudent" and header[-1] == "micrograd lab"
    assert special == [["    Points Possible", "", "", "", "", FULL]]
    assert students["1003"][-1] == "" == students["1005"][-1] and students["1001"][-1] == ADA
    assert "2 roster students have this name" in (tmp_path / "canvas-unmatched.csv").read_text()


def _semicolons(line: str) -> str:
    return "\n".join(";".join(row) for row in csv.reader([line.rstrip("\n")])) + "\n"


@pytest.mark.parametrize(("roster", "says"), [
    ("student,total,add_backward\nada,90,8\n", "is not a Canvas gradebook export"),
    (ROSTER.replace("    Points Possible", "Points"), "it has no Points Possible row"),
    (ROSTER.replace(f",{TOTAL_POINTS:.2f},(read", ",10.00,(read"),
     f"is worth 10.00 points and the kit grades out of {TOTAL_POINTS}"),
], ids=["the kit's own gradebook", "no points row", "other points"])
def test_anything_but_a_usable_canvas_export_is_refused_in_one_line(tmp_path, graded, capsys,
                                                                    roster, says):
    assert export(tmp_path, graded, roster) == 1
    err = capsys.readouterr().err.split("\n", 1)[1]  # after the line that names the course
    assert says in err and len(
        err.strip().splitlines()) == 1 and not (tmp_path / "canvas.csv").exists()


def test_a_roster_in_another_encoding_is_refused(tmp_path, graded, capsys):
    assert export(tmp_path, graded, ROSTER, encoding="latin-1") == 1
    assert "is not UTF-8: export it from Canvas again" in capsys.readouterr().err


def test_a_canvas_late_mark_survives_a_merge(tmp_path):
    """Canvas says dee was late (her files' times say nothing: the deadline is far ahead): a merge
    of the graded folder, which sees no hand-in, still counts her late, as the run did."""
    from datetime import UTC, datetime

    from autograder.classrun.gradebook import LatePolicy, merge, read_gradebook

    course = tmp_path / "class"
    course.mkdir()
    (course / "dee_late_1007_77002_engine.py").write_text(engine_answering("pass"))
    (course / "eve_1008_77003_engine.py").write_text(engine_answering("pass"))
    late = LatePolicy(datetime(2999, 1, 1, tzinfo=UTC), percent_per_day=10)
    grade_all(course, tmp_path / "graded", workers=1, seed=3, entry=JUDGED, limits=LIMITS,
              late=late)
    merged = merge(tmp_path / "graded", tmp_path / "merged", late)
    assert merged.late_marks == {"dee": True, "eve": False}
    for folder in ("graded", "merged"):
        rows = {
            row["student"]: row["days_late"]
            for row in read_gradebook(tmp_path / folder / GRADEBOOK)
        }
        assert rows == {"dee": "1", "eve": "0"}, folder
