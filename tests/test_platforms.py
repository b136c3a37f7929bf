"""Grading where courses run: Gradescope's zip, the GitHub Actions workflows, late work in grade-all."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from mutants import MUTANTS, apply

from autograder.cli import main
from autograder.grading import grade
from autograder.markers import find_regions
from autograder.platforms import gradescope
from autograder.reference import KIT_ROOT, REFERENCE_PACKAGE_DIR
from autograder.rubric import TASK_IDS, TOTAL_POINTS
from autograder.submission import starter

RELEASE_NOTEBOOK = KIT_ROOT / "release" / "micrograd_lab" / "micrograd_lab.ipynb"


def solution_lines() -> set[str]:
    """The stripped code lines found only inside the reference's solution regions."""
    inside, outside = set(), set()
    for path in REFERENCE_PACKAGE_DIR.glob("*.py"):
        lines = path.read_text().splitlines()
        body = {n for region in find_regions(path) for n in range(region.begin, region.end - 1)}
        for number, line in enumerate(lines):
            (inside if number in body else outside).add(line.strip())
    return {line for line in inside - outside if line and not line.startswith("#")}


# ---- Gradescope -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("export") / "autograder.zip"
    assert main(["export", "gradescope", "--out", str(out)]) == 0
    return out


def test_the_zip_holds_the_scripts_the_kit_and_no_solution(autograder_zip, tmp_path):
    with zipfile.ZipFile(autograder_zip) as archive:
        names = archive.namelist()
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
        texts = {name: archive.read(name).decode() for name in names}
    assert {"setup.sh", "run_autograder", "kit/autograder/checks/hidden.py", "kit/autograder/checks/trusted.py",
            "kit/solutions/micrograd/engine.py"} <= set(names)
    assert modes["setup.sh"] & 0o111 and modes["run_autograder"] & 0o111
    assert not any("__pycache__" in name for name in names)
    assert texts["kit/solutions/micrograd/engine.py"] == starter("engine")
    secret = solution_lines()
    for name, text in texts.items():
        if not name.startswith("kit/autograder/checks/"):  # the hidden checks' trusted engine works: they grade
            assert not secret & {line.strip() for line in text.splitlines()}, name
    # the same kit gives the same bytes: a re-export shows no change
    again = tmp_path / "again.zip"
    gradescope.export(again)
    assert again.read_bytes() == autograder_zip.read_bytes()


def test_export_replaces_only_its_own_zip(autograder_zip, tmp_path, capsys):
    other = tmp_path / "autograder.zip"
    other.write_text("someone's notes")
    assert main(["export", "gradescope", "--out", str(other)]) == 1
    assert "--force" in capsys.readouterr().err and other.read_text() == "someone's notes"
    assert main(["export", "gradescope", "--out", str(autograder_zip)]) == 0  # an earlier export: replaced
    assert main(["export", "gradescope", "--out", str(other), "--visibility", "soon"]) == 1
    assert "after_published" in capsys.readouterr().err


@pytest.fixture(scope="module")
def autograder_root(autograder_zip, tmp_path_factory) -> Path:
    """Gradescope's /autograder after the image build: the zip unpacked into source/, setup.sh run.

    setup.sh runs for real, with `python3` meaning this interpreter: its venv sees this
    interpreter's numpy, so pip installs nothing and no network is needed.
    """
    root = tmp_path_factory.mktemp("autograder")
    with zipfile.ZipFile(autograder_zip) as archive:
        for info in archive.infolist():
            archive.extract(info, root / "source")
            os.chmod(root / "source" / info.filename, info.external_attr >> 16)
    shims = root / "shims"
    shims.mkdir()
    (shims / "python3").symlink_to(sys.executable)
    env = {**os.environ, gradescope.ROOT_VARIABLE: str(root), "PATH": f"{shims}:{os.environ['PATH']}"}
    done = subprocess.run(["bash", str(root / "source" / "setup.sh")], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"the kit at {root / 'source' / 'kit'}" in done.stdout and "total                0/100" in done.stdout
    return root


def run_autograder(root: Path, submission: Path) -> tuple[dict, str]:
    """Put `submission` where Gradescope puts it, run run_autograder; results.json and stdout."""
    shutil.rmtree(root / "submission", ignore_errors=True)
    shutil.rmtree(root / "results", ignore_errors=True)
    shutil.copytree(submission, root / "submission")
    env = {**os.environ, gradescope.ROOT_VARIABLE: str(root)}
    done = subprocess.run([str(root / "source" / "run_autograder")], env=env, capture_output=True, text=True,
                          cwd=root)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads((root / "results" / "results.json").read_text()), done.stdout


def loose_reference(folder: Path) -> Path:
    """The reference as students upload to Gradescope: three files, no folder."""
    folder.mkdir()
    for module in ("engine", "nn", "train"):
        shutil.copyfile(REFERENCE_PACKAGE_DIR / f"{module}.py", folder / f"{module}.py")
    return folder


def notebook_only(folder: Path) -> Path:
    folder.mkdir()
    shutil.copyfile(RELEASE_NOTEBOOK, folder / "micrograd_lab.ipynb")
    return folder


SAMPLES = {
    "reference, loose files": loose_reference,
    "a bug in one task": lambda folder: apply(MUTANTS[0], folder),
    "the untouched notebook": notebook_only,
    "nothing uploaded": lambda folder: folder.mkdir() or folder,
}


@pytest.mark.parametrize("make", SAMPLES.values(), ids=SAMPLES.keys())
def test_run_autograder_gives_the_points_of_mgkit_grade(autograder_root, tmp_path, make):
    submission = make(tmp_path / "submission")
    data, stdout = run_autograder(autograder_root, submission)
    assert f"the kit at {autograder_root / 'source' / 'kit'}" in stdout  # the zip's kit, not this checkout
    seed = data["extra_data"]["seed"]
    expected = grade(gradescope.submission_in(submission), seed).to_gradescope()
    assert [(t["name"], t["score"], t["status"], t["output"], t["tags"]) for t in data["tests"]] == \
        [(t["name"], t["score"], t["status"], t["output"], t["tags"]) for t in expected["tests"]]
    assert data["score"] == expected["score"] and data["extra_data"]["graded"]


def test_hidden_feedback_and_the_total_wait_for_publication(autograder_root, tmp_path):
    data, stdout = run_autograder(autograder_root, apply(MUTANTS[0], tmp_path / "submission"))
    assert {test["visibility"] for test in data["tests"]} == {"after_published"}
    assert data["stdout_visibility"] == "hidden" and "88/100" in stdout  # the table: for the instructor only
    assert str(data["score"]) not in data["output"] and "Score" not in data["output"]
    assert data["output"].startswith(gradescope.PENDING)
    empty = run_autograder(autograder_root, notebook_only(tmp_path / "notebook"))[0]["output"]
    assert "graded" in empty and "Note:" not in empty  # a notebook upload is complete


def test_a_broken_upload_is_told_at_once(tmp_path):
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / "engine.py").write_text("x = 1\n")
    gradescope.run(tmp_path, seed=1)
    data = json.loads((tmp_path / "results" / "results.json").read_text())
    assert "nn.py is missing" in data["output"] and len(data["tests"]) == len(TASK_IDS)
    visible = gradescope.run(tmp_path, visibility="visible", seed=1)
    data = json.loads((tmp_path / "results" / "results.json").read_text())
    assert data["output"].startswith("Score 0 /") and visible.score == 0
    assert {test["visibility"] for test in data["tests"]} == {"visible"}


def test_without_a_submission_folder_the_results_still_list_every_task(tmp_path):
    results = gradescope.run(tmp_path, seed=4)
    data = json.loads((tmp_path / "results" / "results.json").read_text())
    assert not results.graded and [t["tags"] for t in data["tests"]] == [[t] for t in TASK_IDS]
    assert data["score"] == 0 and TOTAL_POINTS == sum(t["max_score"] for t in data["tests"])
