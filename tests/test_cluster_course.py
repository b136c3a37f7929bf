"""A cluster recipe grades by the course it was exported with (`mgkit --course OTHER export ...`),
not by the MGKIT_COURSE or folder its jobs start with: every shard and the merge give OTHER's one
run."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from fake_entry import engine_answering, write_submission
from test_shards import (
    config_map_mounted,
    fake_main,
    fake_mgkit_on_path,
    pod_run,
    run,
    sbatch_options,
)

from autograder.classrun.gradebook import FEEDBACK, GRADEBOOK, SUMMARY
from autograder.cli import main
from autograder.platforms import cluster
from autograder.reference.solution import KIT_ROOT
from mgkit_checks.course import Course

SEED = 5
STUDENTS = ("ada", "cy", "Zoë")
REWEIGHTED = {"add_backward": 3, "mul_backward": 13}  # OTHER: points moved between two tasks


@pytest.fixture(scope="module")
def other(tmp_path_factory) -> Path:
    """A course of its own, elsewhere: the kit's reference, two tasks re-weighted."""
    course = tmp_path_factory.mktemp("other-course")
    shutil.copytree(KIT_ROOT / "solutions", course / "solutions",
                    ignore=shutil.ignore_patterns("__pycache__"))
    text = (KIT_ROOT / "course.toml").read_text()
    for task, points in REWEIGHTED.items():
        assert f'id = "{task}"\npoints = 8\n' in text
        text = text.replace(f'id = "{task}"\npoints = 8\n', f'id = "{task}"\npoints = {points}\n')
    (course / "course.toml").write_text(text)
    return course


@pytest.fixture(scope="module")
def submissions(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("class")
    for student in STUDENTS:
        write_submission(
            folder / student,
            engine_answering("if task_id == 'zero_grad':\n    return -1")
            if student == "cy" else engine_answering("pass"))
    return folder


@pytest.fixture(scope="module")
def others_run(other, submissions, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("others-run")
    assert fake_main(["--course", str(other), "grade-all", str(submissions), "--out", str(out),
                      "--seed", str(SEED), "--workers", "1"]) == 0
    return out


def class_files(out: Path) -> dict[str, bytes]:
    names = [GRADEBOOK, SUMMARY, "index.html", *(f"{student}/{FEEDBACK}" for student in STUDENTS)]
    return {name: (out / name).read_bytes() for name in names if (out / name).exists()}


def kit_course_env() -> dict[str, str]:
    """A job's own environment pointing elsewhere: the kit's course, which the recipe must not
    use."""
    return {"MGKIT_COURSE": str(KIT_ROOT / "course.toml")}


def test_others_run_is_graded_by_other(others_run):
    header, ada = others_run.joinpath(GRADEBOOK).read_text(encoding="utf-8-sig").splitlines()[:2]
    columns = dict(zip(header.split(","), ada.split(",")))
    assert {
        task: columns[task]
        for task in REWEIGHTED
    } == {
        task: str(points)
        for task, points in REWEIGHTED.items()
    }


# How many shards a recipe's run has: the exported recipe's own (4) is a cluster's run, task by task
# (the three-shard merge of test_shards is the inner loop's); one shard also grades and merges by
# the recipe's course, at every step.
SHARDS = [
    pytest.param(1, id="1 shard"),
    pytest.param(None, id="the recipe's shards", marks=pytest.mark.slow)
]


@pytest.mark.parametrize("shards", SHARDS)
def test_a_slurm_recipe_exported_with_course_other_grades_by_other(other, submissions, others_run,
                                                                   tmp_path, shards):
    script = tmp_path / "grade-class.sbatch"
    assert main(["--course", str(other), "export", "slurm", "--out", str(script)]) == 0
    assert f"COURSE={other / 'course.toml'}  #" in script.read_text()
    count = shards or int(sbatch_options(script.read_text())["array"].split("-")[1]) + 1
    shutil.copytree(submissions, tmp_path / "class" / "submissions")
    env = {
        **kit_course_env(), "MGKIT_VENV": str(fake_mgkit_on_path(tmp_path / "venv")),
        "CLASS": str(tmp_path / "class"),
        "SEED": str(SEED),
        "SLURM_JOB_ID": "7",
        "SLURM_ARRAY_JOB_ID": "7"
    }
    for task in range(count):
        run(["bash", str(script)], {
            **env, "SLURM_ARRAY_TASK_ID": str(task),
            "SLURM_ARRAY_TASK_COUNT": str(count)
        })
    run(["bash", str(script)], {**env, "SLURM_JOB_ID": "8"})  # the merge job
    assert class_files(tmp_path / "class" / "graded") == class_files(others_run)


@pytest.mark.parametrize("shards", SHARDS)
def test_a_kubernetes_recipe_exported_with_course_other_grades_by_other(
        other, submissions, others_run, tmp_path, shards):
    recipe = tmp_path / "grade-class.yml"
    assert main(["--course", str(other), "export", "kubernetes", "--out", str(recipe)]) == 0
    items = {item["metadata"]["name"]: item for item in yaml.safe_load(recipe.read_text())["items"]}
    mounted = config_map_mounted(items, tmp_path / "mounted")
    assert (mounted / "course.toml").read_text() == (other / "course.toml").read_text()
    grading = items["mgkit-grade"]["spec"]
    pod, shards = grading["template"]["spec"]["containers"][0], shards or grading["completions"]
    volume, image = tmp_path / "volume", fake_mgkit_on_path(tmp_path / "image")
    shutil.copytree(submissions, volume / "submissions")
    for index in reversed(range(shards)):  # pod 0 last: it merges
        run(
            pod["command"], {
                **pod_run(pod, volume, image, shards, "job", items),
                **kit_course_env(), "JOB_COMPLETION_INDEX": str(index)
            })
    assert class_files(volume / "graded") == class_files(others_run)


@pytest.mark.parametrize("text", [
    "", "x\n", "a\n\n", "  indented\n", "tab\there\n", "no newline", "\n lead\n", "é ünïcode\n",
    "bell\x07\n", "# comment: {x: [1]}\n'q' \"d\"\n"
])
def test_a_config_map_holds_each_course_file_exactly(text, tmp_path):
    (tmp_path / "solutions" / "micrograd").mkdir(parents=True)
    (tmp_path / "solutions" / "micrograd" / "engine.py").write_text(text)
    shutil.copy(KIT_ROOT / "course.toml", tmp_path / "course.toml")
    items = {
        item["metadata"]["name"]: item
        for item in yaml.safe_load(cluster.recipe("kubernetes", Course.find(tmp_path)))["items"]
    }
    assert items["mgkit-course"]["data"]["reference.engine.py"] == text


def pod_0_alone(volume: Path, image: Path,
                merge_wait: int) -> tuple[subprocess.CompletedProcess, list[int]]:
    """Pod 0 of a Job of 2 whose shard 1 never runs, on `volume`: how it ended, and each sleep it
    took."""
    items = {
        item["metadata"]["name"]: item
        for item in yaml.safe_load(cluster.recipe("kubernetes"))["items"]
    }
    pod = items["mgkit-grade"]["spec"]["template"]["spec"]["containers"][0]
    assert {variable["name"] for variable in pod["env"]} >= {"MERGE_WAIT"}
    slept = volume.parent / "slept"
    slept.unlink(missing_ok=True)
    # no wall clock: it says how long
    (image / "bin" / "sleep").write_text(f'#!/bin/sh\necho "$1" >> "{slept}"\n')
    (image / "bin" / "sleep").chmod(0o755)
    env = {
        **os.environ,
        **pod_run(pod, volume, image, 2, "job", items), "JOB_COMPLETION_INDEX": "0",
        "MERGE_WAIT": str(merge_wait)
    }  # shard 1 of 2 never runs
    done = subprocess.run(pod["command"], env=env, capture_output=True, text=True, timeout=300)
    return done, [int(line) for line in slept.read_text().split()] if slept.exists() else []


@pytest.fixture(scope="module")
def pod_0_graded(submissions,
                 tmp_path_factory) -> tuple[Path, tuple[subprocess.CompletedProcess, list[int]]]:
    """Pod 0 run once, without waiting: its folder (the volume, shard 0 graded, and the image), and
    how it ended."""
    folder = tmp_path_factory.mktemp("pod-0")
    shutil.copytree(submissions, folder / "volume" / "submissions")
    return folder, pod_0_alone(folder / "volume", fake_mgkit_on_path(folder / "image"), 0)


# 140: pauses of 10, 20, 40 and 60 s (not 80: the cap), then the 10 s left
@pytest.mark.parametrize("merge_wait", [0, 140])
def test_pod_0_sleeps_between_merge_tries_and_gives_up_after_merge_wait_naming_what_to_do(
        pod_0_graded, tmp_path, merge_wait):
    """MERGE_WAIT 0: pod 0's first run. The longer waits: pod 0 started again (as Kubernetes
    restarts a failed pod) on a copy of that volume, its share already graded: the merge tries are
    what differ."""
    if merge_wait == 0:
        folder, (done, pauses) = pod_0_graded
    else:
        folder = Path(shutil.copytree(pod_0_graded[0], tmp_path / "pod-0", symlinks=True))
        done, pauses = pod_0_alone(folder / "volume", folder / "image", merge_wait)
    volume = folder / "volume"
    assert done.returncode == 1
    assert sum(pauses) == merge_wait and all(0 < pause <= 60 for pause in pauses)
    assert pauses == sorted(pauses[:-1]) + pauses[-1:]  # growing, but the last that ends the wait
    # a try after each sleep
    assert done.stderr.count("not merged: shard 1 of 2 not complete") == len(pauses) + 1
    assert done.stderr.rstrip().endswith(
        f"pod 0: not merged after waiting {merge_wait} s for every share of Job job"
        " (see the shards named above and their pods' logs); once they are complete,"
        f" merge by hand: mgkit grade-all {volume}/parts --merge --batch job --out"
        f" {volume}/graded")
    assert not (volume / "graded").exists()
