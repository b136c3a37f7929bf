"""PrairieLearn: `mgkit grade --format prairielearn` writes its external grader's results.json.

PrairieLearn runs a course's grader image on each submission (the student's files in
/grade/student) and reads /grade/results/results.json: `score` from 0 to 1, `gradable`,
`message`, and `tests`, each with `name`, `description`, `points`, `max_points`, `message` and
`output` (PrairieLearn's docs/externalGrading.md, "Grading results"). The kit's tasks map onto
the tests one to one.

What students see, the same as on Gradescope: the score, the notes about the hand-in, and each
task's feedback (redacted of the reference's lines by the grader). What only the instructor
sees stays out: the seed, the flags to review, the diagnosis ids, the sandbox's layers.
PrairieLearn shows results at once (it has no "after published"), as Gradescope's `visible`.
A grade the grader could not make is `"gradable": false`: no points, and the attempt is not
counted against the student.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..grading.results import GradingResults
from ..reference import rubric
from ..reference.outputs import write_atomically

# the results' "grader": a file mgkit may replace (PrairieLearn keeps extra keys)
MARK = "micrograd-kit"


def prairielearn_results(results: GradingResults) -> dict[str, Any]:
    """PrairieLearn's external-grading results of one grade."""
    if not results.graded:
        return {"grader": MARK, "gradable": False, "score": 0.0, "message": results.summary(),
                "format_errors": [results.tasks[0].feedback]}
    return {
        "grader": MARK,
        "gradable": True,
        "score": round(results.score / results.max_score, 6) if results.max_score else 0.0,
        "message": results.summary(),
        "tests": [{
            "name": f"{task.task_id}: {rubric.BY_ID[task.task_id].title}",
            "description": rubric.BY_ID[task.task_id].title,
            "points": task.score,
            "max_points": task.max_score,
            "message": "passed" if results.passed(task) else "failed",
            "output": task.feedback,
        } for task in results.tasks],
    }


def write(results: GradingResults, path: Path) -> None:
    write_atomically(path,
                     json.dumps(prairielearn_results(results), indent=2, ensure_ascii=False) + "\n")


def is_results_file(path: Path) -> bool:
    """Whether `path` holds PrairieLearn results mgkit wrote (which a new grade may replace)."""
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("grader") == MARK
    except (OSError, ValueError, AttributeError):
        return False
