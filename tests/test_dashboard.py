"""The class dashboard: what index.html shows of a known class, and the page in a real browser."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import statistics
from datetime import UTC, datetime
from pathlib import Path

import pytest

from autograder.classrun.dashboard import INDEX, build_page
from autograder.classrun.gradebook import (
    GRADEBOOK,
    ClassResults,
    LatePolicy,
    class_rows,
    gradebook_csv,
    merge,
)
from autograder.grading.outcomes import TaskResult
from autograder.grading.results import GradingResults, render_feedback
from autograder.reference.rubric import BY_ID, TASKS, TOTAL_POINTS
from autograder.reference.solution import KIT_ROOT

OVERWRITES = ("grad_accumulation", "grad_accumulation/overwrites", "use += in every closure.")
SWAPPED = ("mul_backward", "mul_backward/swapped_operands",
           "each input's gradient is the other input's data.")
WRONG_ORDER = ("topo_sort", "topo_sort/wrong_order",
               "call _backward from the output back to the inputs.")
# ivy's one task left as released
TOPO_NOT_WRITTEN = ("topo_sort", "topo_sort/not_written", "write backward().")
FLAG = "engine.py:3: imports os"
# the known class: who made which mistakes (every other task passed), who has a flag, who handed in
# nothing
MISTAKES = {
    "ada": (),
    "ben": (OVERWRITES, SWAPPED),
    "cy <b>": (OVERWRITES, SWAPPED),
    "dee": (WRONG_ORDER, ),
    "eve": (OVERWRITES, ),
    "ivy": (TOPO_NOT_WRITTEN, )
}
FLAGGED = {"cy <b>"}
EMPTY = "fay"
# handed in the starter untouched: every task not written (or nothing to judge)
STARTERS = ("gil", "hana")
BAD_TIME = "dee"  # a timestamp.txt that cannot be read: a time flag of the gradebook
# each graded student's total: every point but those of the tasks they failed (a starter's: 0)
TOTALS = {**{student: TOTAL_POINTS - sum(BY_ID[task_id].points for task_id, _, _ in mistakes)
             for student, mistakes in MISTAKES.items()}, **dict.fromkeys(STARTERS, 0)}

def starter_grade() -> GradingResults:
    # what the starter gets where no closure ran
    diagnosis = {"grad_accumulation": "nothing_to_judge"}
    return grade_of(
        tuple((task.id, f"{task.id}/{diagnosis.get(task.id, 'not_written')}", "write it.")
              for task in TASKS))


def grade_of(
    mistakes: tuple[tuple[str, str, str], ...], flags: tuple[str, ...] = ()) -> GradingResults:
    failed = {task_id: (diagnosis, advice) for task_id, diagnosis, advice in mistakes}
    # the advice is kept apart, not parsed
    tasks = tuple(
        TaskResult(task.id, 0.0, float(task.points), "it failed.", diagnoses=(
            failed[task.id][0], ), advice=(failed[task.id][1], )) if task.id in
        failed else TaskResult(task.id, float(task.points), float(task.points), "passed")
        for task in TASKS)
    return GradingResults(tasks, seed=1, flags=flags)


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory) -> Path:
    """The known class as CI jobs leave it (results files and a gradebook), merged into one
    folder."""
    parts = tmp_path_factory.mktemp("parts")
    for student, grade_ in known_grades().items():
        (parts / student).mkdir()
        grade_.write(parts / student / "results.json")
        (parts / student / "feedback.md").write_text(render_feedback(grade_, student))
    (parts / BAD_TIME / "timestamp.txt").write_text("last tuesday\n")
    (parts / GRADEBOOK).write_text(gradebook_csv([EMPTY], ClassResults(problems={EMPTY: "empty"})))
    out = tmp_path_factory.mktemp("out")
    merge(parts, out, LATE)
    return out


LATE = LatePolicy(datetime(2025, 3, 1, tzinfo=UTC), 10.0)  # no one has a time: no one is late


def known_grades() -> dict[str, GradingResults]:
    grades = {student: grade_of(mistakes, (FLAG,) if student in FLAGGED else ())
              for student, mistakes in MISTAKES.items()}
    return {**grades, **{student: starter_grade() for student in STARTERS}}


def known_page():
    results = ClassResults(grades=known_grades(), problems={EMPTY: "empty"},
                           time_flags={BAD_TIME: ("no submission time: last tuesday",)})
    return build_page(class_rows(sorted([*MISTAKES, *STARTERS, EMPTY]), results, LATE))


def test_the_page_counts_pass_rates_over_the_graded_students():
    tasks = {task.task_id: task for task in known_page().tasks}
    graded = len(TOTALS)  # the starters are graded too: their zeros count in the rates
    for task in TASKS:
        failed = sum(task.id in {task_id
                                 for task_id, _, _ in mistakes} for mistakes in MISTAKES.values())
        assert (tasks[task.id].passed, tasks[task.id].graded) == (len(MISTAKES) - failed, graded)
    assert (tasks["grad_accumulation"].passed, tasks["grad_accumulation"].graded) == (3, 8)
    # the starters' not-written closures are no mistake of the class
    assert tasks["add_backward"].mistakes == ()


def test_each_tasks_mistakes_name_their_students_and_the_advice_they_read_real_mistakes_first():
    tasks = {task.task_id: task for task in known_page().tasks}
    [overwrites] = tasks["grad_accumulation"].mistakes
    assert overwrites.diagnosis == "grad_accumulation/overwrites" and overwrites.students == (
        "ben", "cy <b>", "eve")
    assert overwrites.advice == "use += in every closure."
    # a task not written yet comes after the real mistakes, though its id sorts first
    assert [(m.diagnosis, m.students) for m in tasks["topo_sort"].mistakes] == [
        ("topo_sort/wrong_order", ("dee",)), ("topo_sort/not_written", ("ivy",))]


def test_untouched_starters_are_one_line_not_mistakes_and_every_gradebook_flag_is_shown():
    page = known_page()
    assert page.starters == STARTERS
    named = [name for task in page.tasks for mistake in task.mistakes for name in mistake.students]
    named += [name for pair in page.together for name in pair.students]
    assert not set(named) & set(STARTERS)
    assert [(pair.first, pair.second, pair.students) for pair in page.together] == [
        ("grad_accumulation/overwrites", "mul_backward/swapped_operands", ("ben", "cy <b>"))]
    # what gradebook.csv lists
    book_flags = {(row.student, flag) for row in page.rows for flag in row.flags}
    assert {(student, flag) for flag, students in page.flags for student in students} == book_flags
    assert page.flags == ((FLAG, ("cy <b>",)), ("no submission time: last tuesday", (BAD_TIME,)))


def test_the_glance_has_the_mean_median_and_histogram_of_the_graded():
    page = known_page()  # the totals of the graded, the starters' zeros included; fay empty
    totals = sorted(TOTALS.values())
    assert (page.mean, page.median) == (pytest.approx(sum(totals) / len(totals)),
                                        statistics.median(totals))
    bars = [0] * 10  # a bar per tenth of the total; a full score is in the last bar
    for total in totals:
        bars[min(10 * total // TOTAL_POINTS, 9)] += 1
    assert page.histogram == tuple(bars) and bars[9] == 1 and bars[0] == len(STARTERS)


def test_merge_writes_the_page_and_feedback_pages_escaped(graded_class):
    html = (graded_class / INDEX).read_text()
    assert "cy &lt;b&gt;" in html and "cy <b>" not in html  # a student's name is text, never markup
    assert 'href="cy%20%3Cb%3E/feedback.html"' in html and 'href="fay/' not in html
    assert OVERWRITES[2] in html  # the advice, read back from each results.json (extra_data.advice)
    # nothing remote
    assert "http" not in html.replace("http://www.w3.org/2000/svg", "").replace("http-equiv", "")
    # only its own script runs, by its hash
    assert re.search(r"script-src 'sha256-[A-Za-z0-9+/=]+';", html)
    feedback = (graded_class / "cy <b>" / "feedback.html").read_text()
    # 80 / 100 on the kit's; the name quoted as code
    heading = f"<h1>micrograd: <code>cy &lt;b&gt;</code>, {TOTALS['cy <b>']} / {TOTAL_POINTS}</h1>"
    assert "<table>" in feedback and heading in feedback


def test_the_page_is_the_same_however_often_it_is_written(graded_class, tmp_path):
    again = tmp_path / "again"
    merge(graded_class, again, LATE)
    assert (again / INDEX).read_bytes() == (graded_class / INDEX).read_bytes()


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
WHY_NO_BROWSER = ("no chromium on this machine: apt-get install chromium (.ci/run does)"
                  if CHROMIUM is None else "no playwright: pip install -e '.[test]'"
                  if importlib.util.find_spec("playwright") is None else "")


@pytest.fixture(scope="module")
def browser():
    """The machine's chromium, driven by Playwright (which downloads no browser of its own here)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM,
                                              args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


def roster_names(page) -> list[str]:
    return page.eval_on_selector_all("#students tbody tr",
                                     "rows => rows.map(row => row.cells[0].textContent.trim())")


@pytest.mark.slow  # a browser
@pytest.mark.skipif(bool(WHY_NO_BROWSER), reason=WHY_NO_BROWSER)
@pytest.mark.parametrize("width", [1400, 1920])
def test_in_a_browser_the_page_fits_the_screen_and_the_roster_keeps_its_names_in_view(
        graded_class, browser, width):
    page = browser.new_page(viewport={"width": width, "height": 1000})
    page.goto((graded_class / INDEX).as_uri())
    # the page never scrolls sideways
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    box = page.locator(".roster")
    fits = page.evaluate("box => box.scrollWidth <= box.clientWidth", box.element_handle())
    sticky = page.evaluate("cell => getComputedStyle(cell).position",
                           page.locator("#students tbody td").first.element_handle())
    # a roster wider than its box scrolls inside it, the names kept
    assert fits or sticky == "sticky"
    assert sticky == "sticky"
    page.close()


@pytest.mark.slow  # a browser
@pytest.mark.skipif(bool(WHY_NO_BROWSER), reason=WHY_NO_BROWSER)
def test_in_a_browser_the_roster_sorts_by_a_click_and_every_feedback_link_opens(
        graded_class, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto((graded_class / INDEX).as_uri())
    # the inline script ran to its end
    assert page.get_attribute("#students", "data-sortable") == "ready"
    assert "2 untouched starters" in page.inner_text(
        "#starters") and "gil, hana" in page.inner_text("#starters")
    mistakes = page.inner_text("#mistakes") + page.inner_text("#together")
    assert not any(starter in mistakes for starter in STARTERS)
    assert "no submission time: dee/timestamp.txt: 'last tuesday' is not a time" in page.inner_text(
        "#flags")
    mean = f"{sum(TOTALS.values()) / len(TOTALS):.1f}"
    assert page.inner_text("#mean") == mean and page.inner_text("#graded") == str(len(TOTALS))

    total = page.locator("#students thead th", has_text="total")
    # lowest first; names break ties as the table held them (sorted), the empty one first
    total.click()
    by_total = sorted(TOTALS, key=lambda student: TOTALS[student])
    assert [name for name in roster_names(page)
            if name in TOTALS] == sorted(by_total, key=TOTALS.get)
    assert roster_names(page)[0] == EMPTY and page.get_attribute("#students thead th:nth-child(3)",
                                                                 "aria-sort") == "ascending"
    total.click()
    # the full score, now first
    assert [name for name in roster_names(page) if name in TOTALS][0] == "ada"
    page.locator("#students thead th").first.click()
    assert roster_names(page) == sorted(roster_names(page), key=str.lower)

    links = page.eval_on_selector_all("#students a",
                                      "links => links.map(link => [link.textContent, link.href])")
    # every graded student, fay has none
    assert sorted(name for name, _ in links) == sorted(TOTALS, key=str.lower)
    for name, href in links:
        page.goto(href)
        assert page.inner_text("h1").startswith(
            f"micrograd: {name}, {TOTALS[name]} / {TOTAL_POINTS}")
    page.goto((graded_class / INDEX).as_uri())
    shot = tmp_path / "dashboard.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("MGKIT_DASHBOARD_SHOT"):  # how docs/dashboard.png is made
        shutil.copyfile(shot, KIT_ROOT / "docs" / "dashboard.png")
    page.close()
