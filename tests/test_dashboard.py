"""The class dashboard: what index.html shows of a known class, and the page in a real browser."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from autograder.checks.api import TaskResult
from autograder.dashboard import INDEX, build_page
from autograder.gradebook import GRADEBOOK, ClassResults, class_rows, gradebook_csv, merge
from autograder.reference import KIT_ROOT
from autograder.results import GradingResults, render_feedback
from autograder.rubric import BY_ID, TASKS, TOTAL_POINTS

OVERWRITES = ("grad_accumulation", "grad_accumulation/overwrites", "use += in every closure.")
SWAPPED = ("mul_backward", "mul_backward/swapped_operands", "each input's gradient is the other input's data.")
WRONG_ORDER = ("topo_sort", "topo_sort/wrong_order", "call _backward from the output back to the inputs.")
FLAG = "engine.py:3: imports os"
# the known class: who made which mistakes (every other task passed), who has a flag, who handed in nothing
MISTAKES = {"ada": (), "ben": (OVERWRITES, SWAPPED), "cy <b>": (OVERWRITES, SWAPPED), "dee": (WRONG_ORDER,),
            "eve": (OVERWRITES,)}
FLAGGED = {"cy <b>"}
EMPTY = "fay"
# each graded student's total: every point but those of the tasks they failed
TOTALS = {student: TOTAL_POINTS - sum(BY_ID[task_id].points for task_id, _, _ in mistakes)
          for student, mistakes in MISTAKES.items()}


def grade_of(mistakes: tuple[tuple[str, str, str], ...], flags: tuple[str, ...] = ()) -> GradingResults:
    failed = {task_id: (diagnosis, advice) for task_id, diagnosis, advice in mistakes}
    tasks = tuple(TaskResult(task.id, 0.0, float(task.points), "it failed.",  # the advice is kept apart, not parsed
                             diagnoses=(failed[task.id][0],), advice=(failed[task.id][1],)) if task.id in failed
                  else TaskResult(task.id, float(task.points), float(task.points), "passed") for task in TASKS)
    return GradingResults(tasks, seed=1, flags=flags)


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory) -> Path:
    """The known class as CI jobs leave it (results files and a gradebook), merged into one folder."""
    parts = tmp_path_factory.mktemp("parts")
    for student, mistakes in MISTAKES.items():
        grade_ = grade_of(mistakes, (FLAG,) if student in FLAGGED else ())
        (parts / student).mkdir()
        grade_.write(parts / student / "results.json")
        (parts / student / "feedback.md").write_text(render_feedback(grade_, student))
    (parts / GRADEBOOK).write_text(gradebook_csv([EMPTY], ClassResults(problems={EMPTY: "empty"})))
    out = tmp_path_factory.mktemp("out")
    merge(parts, out)
    return out


def known_page():
    results = ClassResults(grades={student: grade_of(mistakes, (FLAG,) if student in FLAGGED else ())
                                   for student, mistakes in MISTAKES.items()}, problems={EMPTY: "empty"})
    return build_page(class_rows(sorted([*MISTAKES, EMPTY]), results))


def test_the_page_counts_pass_rates_over_the_graded_students():
    tasks = {task.task_id: task for task in known_page().tasks}
    assert (tasks["grad_accumulation"].passed, tasks["grad_accumulation"].graded) == (2, 5)
    assert tasks["mul_backward"].rate == pytest.approx(0.6) and tasks["topo_sort"].rate == pytest.approx(0.8)
    assert tasks["add_backward"].rate == 1.0 and tasks["add_backward"].mistakes == ()


def test_each_tasks_mistakes_name_their_students_and_the_advice_they_read():
    tasks = {task.task_id: task for task in known_page().tasks}
    [overwrites] = tasks["grad_accumulation"].mistakes
    assert overwrites.diagnosis == "grad_accumulation/overwrites" and overwrites.students == ("ben", "cy <b>", "eve")
    assert overwrites.advice == "use += in every closure."
    assert [(m.diagnosis, m.students) for m in tasks["topo_sort"].mistakes] == [("topo_sort/wrong_order", ("dee",))]


def test_mistakes_shared_by_two_students_travel_together_and_flags_name_theirs():
    page = known_page()
    assert [(pair.first, pair.second, pair.students) for pair in page.together] == [
        ("grad_accumulation/overwrites", "mul_backward/swapped_operands", ("ben", "cy <b>"))]
    assert page.flags == ((FLAG, ("cy <b>",)),)



def test_the_glance_has_the_mean_median_and_histogram_of_the_graded():
    page = known_page()  # the totals of the five graded (on the kit's course 100, 80, 80, 86, 88); fay empty
    totals = sorted(TOTALS.values())
    assert (page.mean, page.median) == (pytest.approx(sum(totals) / 5), totals[2])
    bars = [0] * 10  # a bar per tenth of the total; a full score is in the last bar
    for total in totals:
        bars[min(10 * total // TOTAL_POINTS, 9)] += 1
    assert page.histogram == tuple(bars) and bars[9] == 1  # ada's full score alone in the last


def test_merge_writes_the_page_and_feedback_pages_escaped(graded_class):
    html = (graded_class / INDEX).read_text()
    assert "cy &lt;b&gt;" in html and "cy <b>" not in html  # a student's name is text, never markup
    assert 'href="cy%20%3Cb%3E/feedback.html"' in html and 'href="fay/' not in html
    assert OVERWRITES[2] in html  # the advice, read back from each results.json (extra_data.advice)
    assert "http" not in html.replace("http://www.w3.org/2000/svg", "")  # nothing fetched from a network
    feedback = (graded_class / "cy <b>" / "feedback.html").read_text()
    # 80 / 100 on the kit's; the name quoted as code
    heading = f"<h1>micrograd: <code>cy &lt;b&gt;</code>, {TOTALS['cy <b>']} / {TOTAL_POINTS}</h1>"
    assert "<table>" in feedback and heading in feedback


def test_the_page_is_the_same_however_often_it_is_written(graded_class, tmp_path):
    again = tmp_path / "again"
    merge(graded_class, again)
    assert (again / INDEX).read_bytes() == (graded_class / INDEX).read_bytes()


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def chromium(page: Path, profile: Path, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                           "--disable-component-update", "--disable-sync", "--no-first-run",
                           f"--user-data-dir={profile}", *options, page.as_uri()],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on this machine: apt-get install chromium (.ci/run does)")
def test_a_browser_shows_the_known_class_and_runs_the_sort_script(graded_class, tmp_path):
    dom = chromium(graded_class / INDEX, tmp_path / "profile", "--dump-dom")
    assert dom.returncode == 0, dom.stderr
    assert 'data-sortable="ready"' in dom.stdout  # the inline script ran to its end
    row = dom.stdout.split('id="task-grad_accumulation"')[1].split("</tr>")[0]
    assert "40% (2/5)" in row and "grad_accumulation/overwrites" in row and "ben, cy &lt;b&gt;, eve" in row
    mean = f"{sum(TOTALS.values()) / len(TOTALS):.1f}"  # as the page prints it (86.8 on the kit's course)
    assert re.search(f'id="mean">{re.escape(mean)}<', dom.stdout) and re.search(r'id="graded">5<', dom.stdout)
    shot = tmp_path / "dashboard.png"
    done = chromium(graded_class / INDEX, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,1600")
    assert done.returncode == 0 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", done.stderr
    if os.environ.get("MGKIT_DASHBOARD_SHOT"):  # how docs/dashboard.png is made
        shutil.copyfile(shot, KIT_ROOT / "docs" / "dashboard.png")
