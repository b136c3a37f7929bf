"""A dry run over an --out kept inside the submissions' folder grades the students only, as the run
did: the results' own folders are no hand-in."""

from __future__ import annotations

from pathlib import Path

from fake_entry import JUDGED, ROOMY, write_submission

from autograder.classrun.gradebook import dry_run, grade_all

LIMITS = ROOMY


def test_a_dry_run_skips_an_out_inside_the_submissions_as_the_run_does(tmp_path: Path):
    submissions = tmp_path / "class"
    for student in ("ada", "ben"):
        write_submission(submissions / student)
    out = submissions / "graded"
    heard: list[str] = []
    grade_all(submissions, out, workers=1, entry=JUDGED, limits=LIMITS, seed=5, say=heard.append)
    differences, moved = dry_run(submissions, out, {"workers": 1, "entry": JUDGED, "limits": LIMITS,
                                                    "say": heard.append})
    # the run's count, then the dry run's: "graded" is no student
    assert heard == ["2 students: 2 folders"] * 2
    assert moved == [] and differences == []
