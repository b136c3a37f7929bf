"""A class graded in shards, then merged, is the class graded in one run: by grade-all itself, and
by the Kubernetes and SLURM recipes' own commands, each shard run as its cluster would run it."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from fake_entry import JUDGED, ROOMY, engine_answering, write_submission

from autograder.classrun.gradebook import FEEDBACK, GRADEBOOK, RESULTS, SUMMARY, grade_all, merge
from autograder.classrun.shards import (
    RECORD,
    ShardRecord,
    ShardsIncomplete,
    complete_shards,
    in_shard,
    parse_shard,
)
from autograder.cli import main
from autograder.platforms import cluster
from autograder.reference.solution import KIT_ROOT

LIMITS = ROOMY  # nothing here hangs
SEED = 5
FAKE_MGKIT = Path(__file__).with_name("fake_mgkit.py")
STUDENTS = ["ada", "cy", "dee", "Zoë", "fay", "gus", "jo"]  # every share of 3 and of 4 holds some


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """Seven students: most right, one losing zero_grad, one empty hand-in (a row with no
    results)."""
    course = tmp_path_factory.mktemp("class")
    for student in STUDENTS:
        write_submission(
            course / student,
            engine_answering("if task_id == 'zero_grad':\n    return -1")
            if student == "cy" else engine_answering("pass"))
    (course / "hal").mkdir()
    return course


@pytest.fixture(scope="module")
def one_run(course, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("one-run")
    grade_all(course, out, workers=1, seed=SEED, entry=JUDGED, limits=LIMITS)
    return out


def class_files(out: Path) -> dict[str, bytes]:
    """What a run writes for people: the top of OUT (with the class dashboard, once grade-all writes
    one), and every student's feedback."""
    names = [
        GRADEBOOK, SUMMARY, "index.html", *(f"{student}/{FEEDBACK}"
                                            for student in [*STUDENTS, "hal"])
    ]
    return {name: (out / name).read_bytes() for name in names if (out / name).exists()}


def test_a_share_depends_on_the_name_alone_and_the_shares_hold_everyone_once():
    shares = [[student for student in STUDENTS if in_shard(student, (index, 3))]
              for index in range(3)]
    assert sorted(sum(shares, [])) == sorted(STUDENTS) and all(shares)
    # every machine of a cluster: another process, another str hash seed
    for hash_seed in ("1", "2"):
        code = f"from autograder.classrun.shards import in_shard; print([[s for s in {STUDENTS!r}"\
               " if in_shard(s, (i, 3))] for i in range(3)])"
        elsewhere = subprocess.run([sys.executable, "-c", code], env={
            **os.environ, "PYTHONHASHSEED": hash_seed
        }, capture_output=True, text=True, check=True).stdout
        assert elsewhere.strip() == str(shares)
    assert parse_shard("2/3") == (2, 3)
    for bad in ("3/3", "1", "a/b", "-1/2"):
        with pytest.raises(ValueError, match="--shard"):
            parse_shard(bad)


def test_three_shards_in_any_order_merge_into_the_one_run_byte_for_byte(
        course, one_run, tmp_path, capsys):
    parts = tmp_path / "parts"
    for index in (2, 0, 1):
        grade_all(course, parts / f"shard-{index}", workers=1, seed=SEED, entry=JUDGED,
                  limits=LIMITS, shard=(index, 3))
    graded = {path.parent.name for path in parts.glob(f"*/*/{RESULTS}")}
    # each shard wrote its share only: no student twice, none missing
    assert graded == set(STUDENTS)
    assert {path.parent.name for path in (parts / "shard-1").glob(f"*/{RESULTS}")} == {
        student for student in STUDENTS if in_shard(student, (1, 3))}
    merge(parts, tmp_path / "merged")
    assert class_files(tmp_path / "merged") == class_files(one_run)
    # the empty hand-in's row came through its shard
    assert "hal,,," in (one_run / GRADEBOOK).read_text()
    assert main(["grade-all", str(course), "--out", str(tmp_path / "x"), "--shard", "3/3"]) == 1
    why = capsys.readouterr().err.splitlines()[1:]  # after the line that names the course
    assert why == ["mgkit grade-all: --shard 3/3: I must be from 0 to N-1, e.g. 0/3"]


# ---- the cluster recipes, run here as their clusters run them ---------------------------------

def fake_mgkit_on_path(folder: Path) -> Path:
    """A `mgkit` in `folder`/bin: the real command line, with the fake checks
    (tests/fake_mgkit.py)."""
    (folder / "bin").mkdir(parents=True)
    (folder / "bin" /
     "mgkit").write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_MGKIT}" "$@"\n')
    (folder / "bin" / "mgkit").chmod(0o755)
    return folder


def run(command: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(command, env={
        **os.environ,
        **env
    }, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def kubernetes_items() -> dict[str, dict]:
    return {
        item["metadata"]["name"]: item
        for item in yaml.safe_load(cluster.recipe("kubernetes"))["items"]
    }


def pod_run(pod: dict, volume: Path, image: Path, shards: int, job_uid: str,
            items: dict[str, dict] | None = None) -> dict[str, str]:
    """A pod's environment, as Kubernetes fills it: the volume at /class, the ConfigMap's course at
    /course (of `items`, the recipe's; left out, the one exported here), the Job's uid, the CPU
    limit (one CPU: a grader per pod, the fewest processes a shard's grading takes)."""
    settings = {
        variable["name"]: variable["value"]
        for variable in pod["env"] if "value" in variable
    }
    mounts = {
        pod["volumeMounts"][0]["mountPath"]:
        volume,
        "/course":
        config_map_mounted(items or kubernetes_items(), volume.with_name(volume.name + "-course"))
    }
    env = dict(settings)
    for mount, folder in mounts.items():
        env = {name: value.replace(mount, str(folder)) for name, value in env.items()}
    return {**env, "SEED": str(SEED), "SHARDS": str(shards), "RUN": job_uid, "CPUS": "1",
            "PATH": f"{image}/bin:{os.environ['PATH']}"}


def config_map_mounted(items: dict[str, dict], folder: Path) -> Path:
    """The recipe's ConfigMap mgkit-course as its pods see it: its keys as files, at the items'
    paths."""
    data = items["mgkit-course"]["data"]
    volume = next(volume for volume in items["mgkit-grade"]["spec"]["template"]["spec"]["volumes"]
                  if volume["name"] == "course")
    for item in volume["configMap"]["items"]:
        (folder / item["path"]).parent.mkdir(parents=True, exist_ok=True)
        (folder / item["path"]).write_text(data[item["key"]])
    return folder


# a cluster's run, pod by pod (task by task): the three-shard merge is the inner loop's
@pytest.mark.slow
def test_the_kubernetes_job_run_pod_by_pod_is_the_one_run_and_ignores_an_earlier_jobs_shares(
        course, one_run, tmp_path):
    grading = kubernetes_items()["mgkit-grade"]["spec"]
    assert grading["completionMode"] == "Indexed"
    pod = grading["template"]["spec"]["containers"][0]
    shards = grading["completions"]
    assert {
        variable["name"]: variable.get("value")
        for variable in pod["env"]
    }["SHARDS"] == str(shards)
    command = pod["command"][-1]
    # the pod's own CPUs, from its limit: not the node's cores
    assert '--workers "$CPUS"' in command
    cpus = next(variable for variable in pod["env"]
                if variable["name"] == "CPUS")["valueFrom"]["resourceFieldRef"]
    assert cpus["resource"] == "limits.cpu" and "cpu" in pod["resources"]["limits"]
    volume, image = tmp_path / "volume", fake_mgkit_on_path(tmp_path / "image")
    shutil.copytree(course, volume / "submissions")
    # an earlier Job in more shards left shard-4 (complete), and a half-done shard-1
    run(pod["command"], {
        **pod_run(pod, volume, image, shards + 1, "earlier-job"), "JOB_COMPLETION_INDEX": "4"
    })
    # the pods, in any order; pod 0 (last here) merges, its wait ends at once
    for index in reversed(range(shards)):
        run(pod["command"], {
            **pod_run(pod, volume, image, shards, "this-job"), "JOB_COMPLETION_INDEX": str(index)
        })
    # shard-4's students were not merged twice
    assert class_files(volume / "graded") == class_files(one_run)


def test_the_kubernetes_recipe_validates_against_a_current_kubernetes_schema():
    import kubernetes_validate

    version = kubernetes_validate.latest_version()
    for item in yaml.safe_load(cluster.recipe("kubernetes"))["items"]:
        kubernetes_validate.validate(item, version, strict=True)  # ValidationError names the field
    items = kubernetes_items()
    volume, files = items["mgkit-class"], items["mgkit-class-files"]
    # the guide's first step makes the volume and the pod the hand-ins are copied onto; the grading
    # comes after
    assert volume["metadata"]["labels"] == files["metadata"]["labels"] == {"mgkit-step": "volume"}
    assert items["mgkit-grade"]["metadata"]["labels"] == {"mgkit-step": "grade"}
    assert "-l mgkit-step=volume" in cluster.recipe("kubernetes") and "-l mgkit-step=volume" in (
        KIT_ROOT / "docs" / "INSTRUCTORS.md").read_text()


# a class run stopped: in the inner loop, test_gradebook's stopped run writes its gradebook, the
# record of a share begun and never finished is refused below, and pod 0's merge tries exit 3
@pytest.mark.slow
def test_a_share_stopped_by_sigterm_leaves_a_gradebook_but_the_merge_refuses_naming_it(
        tmp_path, capsys):
    course = tmp_path / "class"
    slow = next(student for student in ("a", "b", "c", "d", "e") if in_shard(student, (1, 2)))
    for student in ("ada", slow):
        write_submission(
            course / student,
            engine_answering("import time; time.sleep(0.3)")
            if student == slow else engine_answering("pass"))
    parts = tmp_path / "parts"
    assert fake_main([
        "grade-all",
        str(course), "--out",
        str(parts / "shard-0"), "--shard", "0/2", "--batch", "b", "--seed",
        str(SEED)
    ]) == 0
    share = subprocess.Popen([
        sys.executable,
        str(FAKE_MGKIT), "grade-all",
        str(course), "--out",
        str(parts / "shard-1"), "--shard", "1/2", "--batch", "b", "--workers", "1"
    ], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    # past the record, the settings and the sort: grading
    wait_for(lambda: grading_processes_of(share.pid))
    share.send_signal(signal.SIGTERM)  # an evicted pod
    assert share.wait(timeout=30) == 128 + signal.SIGTERM
    assert (parts / "shard-1" / GRADEBOOK).exists()  # what the old wait counted as done
    assert (parts / "shard-1" / RECORD).exists()  # which says the share is not complete:
    assert fake_main([
        "grade-all",
        str(parts), "--merge", "--batch", "b", "--out",
        str(tmp_path / "graded")
    ]) == 3
    assert capsys.readouterr().err.strip().endswith(
        "not merged: shard 1 of 2 not complete (stopped, failed, cancelled or not run yet): "
        "run it again, then merge"
    )
    assert not (tmp_path / "graded").exists()  # nothing written
    with pytest.raises(ShardsIncomplete, match="no shard of run other"):
        merge(parts, tmp_path / "graded", batch="other")


def test_a_merge_without_a_batch_refuses_the_shards_of_two_runs(tmp_path):
    records = {"shard-0": ShardRecord(0, 2, "x", True), "shard-1": ShardRecord(1, 2, "x", True),
               "old-1": ShardRecord(1, 3, "y", True), "z-0": ShardRecord(0, 2, "z", True),
               "z-1": ShardRecord(1, 2, "z", False)}  # z-1: begun, never finished (a share stopped)
    for folder, record in records.items():
        (tmp_path / folder).mkdir()
        record.write(tmp_path / folder)
    with pytest.raises(ValueError, match=r"holds shards of 3 runs \(x in 2, y in 3, z in 2\): "
                                         r"merge one with --batch"):
        merge(tmp_path, tmp_path / "graded")
    assert complete_shards(tmp_path, "x") == [(tmp_path / "shard-0", ShardRecord(0, 2, "x", True)),
                                               (tmp_path / "shard-1", ShardRecord(1, 2, "x", True))]
    with pytest.raises(ShardsIncomplete, match="shards 0, 2 of 3 not complete"):
        complete_shards(tmp_path, "y")
    with pytest.raises(ShardsIncomplete, match=r"shard 1 of 2 not complete \(stopped, failed, "
                                               r"cancelled or not run yet\)"):
        complete_shards(tmp_path, "z")


def grading_processes_of(pid: int) -> list[int]:
    """The graders a run's main process has started (multiprocessing's spawned children)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (proc / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid and b"spawn_main" in cmdline:
            found.append(int(proc.name))
    return found


def wait_for(condition, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def fake_main(argv: list[str]) -> int:
    """The command line with the fake checks (tests/fake_mgkit.py), in this process."""
    done = subprocess.run([sys.executable, str(FAKE_MGKIT), *argv], capture_output=True, text=True,
                          timeout=120)
    sys.stderr.write(done.stderr)
    return done.returncode


def sbatch_options(script: str) -> dict[str, str]:
    return dict(re.findall(r"^#SBATCH --([\w-]+)=(\S+)", script, re.MULTILINE))


# a cluster's run, pod by pod (task by task): the three-shard merge is the inner loop's
@pytest.mark.slow
def test_the_slurm_array_run_task_by_task_then_merged_is_the_one_run(course, one_run, tmp_path):
    script = tmp_path / "grade-class.sbatch"
    assert main(["export", "slurm", "--out", str(script)]) == 0
    first, last = map(int, sbatch_options(script.read_text())["array"].split("-"))
    assert first == 0  # shares count from 0
    shutil.copytree(course, tmp_path / "class" / "submissions")
    env = {
        "MGKIT_VENV": str(fake_mgkit_on_path(tmp_path / "venv")),
        "CLASS": str(tmp_path / "class"),
        "SEED": str(SEED),
        "SLURM_JOB_ID": "41",
        "SLURM_ARRAY_JOB_ID": "41",
        "SLURM_CPUS_PER_TASK": "2"
    }
    for task in (2, 0, 3, 1):
        run(["bash", str(script)], {
            **env, "SLURM_ARRAY_TASK_ID": str(task),
            "SLURM_ARRAY_TASK_COUNT": str(last + 1)
        })
    run(["bash", str(script)], {**env, "SLURM_JOB_ID": "42"})  # the merge job: no array task
    assert class_files(tmp_path / "class" / "graded") == class_files(one_run)


def test_the_slurm_script_run_by_hand_submits_the_array_then_the_merge_after_it(tmp_path):
    script = tmp_path / "grade-class.sbatch"
    script.write_text(cluster.recipe("slurm"))
    fakes, calls = tmp_path / "fakes", tmp_path / "calls"
    fakes.mkdir()
    (fakes /
     "sbatch").write_text(f'#!/bin/sh\necho "$@" >> "{calls}"\nwc -l < "{calls}" | tr -d " "\n')
    (fakes / "sbatch").chmod(0o755)
    env = {"PATH": f"{fakes}:{os.environ['PATH']}", "MGKIT_VENV": str(tmp_path / "venv")}
    env = {
        **{
            key: value
            for key, value in os.environ.items() if not key.startswith("SLURM_")
        },
        **env
    }
    done = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 0, done.stderr
    grading, merging = calls.read_text().splitlines()
    assert grading == f"--parsable --export=ALL {script}"
    # afterany: a failed or cancelled task must not leave the merge pending; the merge gathers this
    # array's shards
    assert "--export=ALL,MGKIT_BATCH=1 --dependency=afterany:1 " in merging
    assert merging.endswith(f"--wrap bash '{script}'")
    assert "submitted the grading array 1 and the merge 2" in done.stdout


@pytest.mark.parametrize("platform", ["kubernetes", "slurm"])
def test_export_writes_the_recipe_and_replaces_only_its_own(platform, tmp_path, capsys):
    out = tmp_path / "recipe"
    assert main(["export", platform, "--out", str(out)]) == 0
    assert out.read_text() == cluster.recipe(platform)
    out.write_text("# the course's own\n")
    assert main(["export", platform, "--out", str(out)
                 ]) == 1 and "--force" in capsys.readouterr().err
