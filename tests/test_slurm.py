"""The exported SLURM recipe, submitted to a real single-node SLURM cluster
(tests/slurm_cluster.py): its merged gradebook is one local run's, byte for byte, and a cancelled
task makes the merge fail with a message naming it, never pending forever."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from slurm_cluster import WHY_NOT, single_node_cluster

from autograder.classrun.gradebook import GRADEBOOK, SUMMARY, grade_all
from autograder.reference.solution import KIT_ROOT

pytestmark = [pytest.mark.skipif(bool(WHY_NOT), reason=WHY_NOT), pytest.mark.slow]  # a real cluster

SEED = 271828
SHARDS = 2
VENV = Path(sys.executable).parent.parent  # the kit's own virtual environment: MGKIT_VENV
REFERENCE = KIT_ROOT / "solutions" / "micrograd"


@pytest.fixture(scope="session")
def slurm(tmp_path_factory) -> dict[str, str]:
    with single_node_cluster(tmp_path_factory.mktemp("slurm")) as env:
        yield {**os.environ, **env}


@pytest.fixture(scope="module")
def small_class(tmp_path_factory) -> Path:
    """Four students: the reference, a swapped mul gradient, the untouched starter, an empty
    hand-in."""
    submissions = tmp_path_factory.mktemp("class") / "submissions"
    shutil.copytree(REFERENCE, submissions / "ada" / "micrograd")
    shutil.copytree(REFERENCE, submissions / "bo" / "micrograd")
    engine = submissions / "bo" / "micrograd" / "engine.py"
    engine.write_text(engine.read_text().replace("self.grad += other.data * out.grad",
                                                 "self.grad += self.data * out.grad"))
    shutil.copytree(KIT_ROOT / "release" / "micrograd", submissions / "cy" / "micrograd")
    (submissions / "dee").mkdir()
    return submissions


@pytest.fixture(scope="module")
def one_run(small_class, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("one-run")
    grade_all(small_class, out, seed=SEED)
    return out


def recipe(folder: Path, submissions: Path) -> tuple[Path, dict[str, str]]:
    """The exported recipe, its settings set as a course sets them (two shards, a node's share of
    CPUs)."""
    script = folder / "grade-class.sbatch"
    subprocess.run([VENV / "bin" / "mgkit", "export", "slurm", "--out",
                    str(script)], check=True, capture_output=True)
    text = re.sub(r"--array=\S+", f"--array=0-{SHARDS - 1}", script.read_text())
    script.write_text(
        text.replace("--cpus-per-task=2", "--cpus-per-task=1").replace("--mem=2G", "--mem=200M"))
    shutil.copytree(submissions, folder / "class" / "submissions")
    return script, {"MGKIT_VENV": str(VENV), "CLASS": str(folder / "class"), "SEED": str(SEED)}


def submit(script: Path, settings: dict[str, str], slurm: dict[str, str]) -> tuple[str, str]:
    """`bash grade-class.sbatch` on the login node: (the array's job id, the merge's)."""
    login = {
        key: value
        for key, value in slurm.items() if not key.startswith("SLURM_") or key == "SLURM_CONF"
    }
    env = {**login, **settings}
    done = subprocess.run(["bash", str(script)], env=env, cwd=script.parent, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    grading, merging = re.search(r"the grading array (\d+) and the merge (\d+)",
                                 done.stdout).groups()
    return grading, merging


def state_of(job: str, slurm: dict[str, str]) -> str:
    """The job's state once it ended, as scontrol says it (COMPLETED, FAILED, CANCELLED ...); ""
    while it runs."""
    shown = subprocess.run(["scontrol", "show", "job", job], env=slurm, capture_output=True,
                           text=True).stdout
    states = set(re.findall(r"JobState=(\w+)", shown))
    # what afterok does once a task was cancelled: pending forever
    if "Reason=DependencyNeverSatisfied" in shown:
        return "PENDING FOREVER"
    running = not states or states & {"PENDING", "RUNNING", "CONFIGURING", "COMPLETING"}
    return "" if running else " ".join(sorted(states))


def wait_for_end(job: str, slurm: dict[str, str], seconds: float = 300) -> str:
    deadline = time.monotonic() + seconds
    while not (state := state_of(job, slurm)):
        assert time.monotonic() < deadline, f"job {job} did not end within {seconds:g} s"
        time.sleep(0.5)
    return state


def test_the_slurm_recipe_on_a_real_cluster_merges_into_the_one_run_byte_for_byte(
        slurm, small_class, one_run, tmp_path):
    script, settings = recipe(tmp_path, small_class)
    grading, merging = submit(script, settings, slurm)
    assert wait_for_end(merging, slurm) == "COMPLETED", (tmp_path /
                                                         f"mgkit-merge-{merging}.out").read_text()
    assert wait_for_end(grading, slurm) == "COMPLETED"
    graded = tmp_path / "class" / "graded"
    for name in (GRADEBOOK, SUMMARY, "index.html"):
        assert (graded / name).read_bytes() == (one_run / name).read_bytes(), name
    assert len(list((tmp_path / "class" / "parts").glob("shard-*/.mgkit-shard.json"))) == SHARDS


def test_a_cancelled_array_task_makes_the_merge_fail_naming_it(slurm, small_class, tmp_path):
    script, settings = recipe(tmp_path, small_class)
    script.write_text(script.read_text().replace("#SBATCH --array=",
                                                 "#SBATCH --hold\n#SBATCH --array="))
    grading, merging = submit(script, settings, slurm)  # held: no task starts before the cancel
    subprocess.run(["scancel", f"{grading}_1"], env=slurm, check=True)
    subprocess.run(["scontrol", "release", grading], env=slurm, check=True)
    assert wait_for_end(merging, slurm) == "FAILED"
    log = (tmp_path / f"mgkit-merge-{merging}.out").read_text()
    assert log.strip().endswith(
        "mgkit grade-all: not merged: shard 1 of 2 not complete (stopped, failed,"
        " cancelled or not run yet): run it again, then merge"), log
    assert not (tmp_path / "class" / "graded").exists()
