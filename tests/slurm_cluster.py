"""A single-node SLURM cluster on this machine, for the tests: munged, slurmctld and slurmd in a
folder of their own (a fresh munge key, a minimal slurm.conf whose one node is this host), run
as root, and stopped with everything they started when the block ends.

    with single_node_cluster(folder) as env:   # env: SLURM_CONF for sbatch, squeue, scontrol
        subprocess.run(["sbatch", ...], env={**os.environ, **env})
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
MISSING = [name for name in (*DAEMONS, "sbatch", "mungekey") if shutil.which(name) is None]
WHY_NOT = (
    f"no SLURM here ({', '.join(MISSING)} missing): apt-get install slurm-wlm munge (.ci/run does)"
    if MISSING else
    "SLURM's daemons run as root: run the tests as root (CI does)" if os.geteuid() else "")

SLURM_CONF = """\
ClusterName=mgkit-test
SlurmctldHost={host}
SlurmUser=root
SlurmdUser=root
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={folder}/munge.socket
StateSaveLocation={folder}/state
SlurmdSpoolDir={folder}/spool
SlurmctldPidFile={folder}/slurmctld.pid
SlurmdPidFile={folder}/slurmd.pid
SlurmctldLogFile={folder}/slurmctld.log
SlurmdLogFile={folder}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
SchedulerParameters=defer_batch=0
MinJobAge=300
NodeName={host} CPUs={cpus} RealMemory=1000 State=UNKNOWN
PartitionName=test Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def single_node_cluster(folder: Path) -> Iterator[dict[str, str]]:
    """Start the cluster in `folder`; yield the environment its commands need; stop it all."""
    # slurmd takes the node whose name is this host's short name
    host = socket.gethostname().split(".")[0]
    for name in ("state", "spool"):
        (folder / name).mkdir(parents=True)
    subprocess.run(["mungekey", "--create", f"--keyfile={folder / 'munge.key'}"], check=True,
                   capture_output=True)
    conf = folder / "slurm.conf"
    conf.write_text(
        SLURM_CONF.format(host=host, folder=folder, ctld_port=free_port(), slurmd_port=free_port(),
                          cpus=os.cpu_count() or 1))
    env = {"SLURM_CONF": str(conf)}
    daemons: list[subprocess.Popen] = []
    try:
        daemons.append(
            _start([
                "munged", "-F", "--force", f"--socket={folder / 'munge.socket'}",
                f"--key-file={folder / 'munge.key'}", f"--pid-file={folder / 'munged.pid'}",
                f"--log-file={folder / 'munged.log'}", f"--seed-file={folder / 'munged.seed'}"
            ], folder))
        _wait(lambda: (folder / "munge.socket").exists(), "munged", folder)
        daemons.append(_start(["slurmctld", "-D", "-i", "-f", str(conf)], folder))
        daemons.append(_start(["slurmd", "-D", "-f", str(conf)], folder))
        _wait(lambda: _node_idle(env), "the node", folder)
        yield env
    finally:
        subprocess.run(["scancel", "--full", "--user=root"], env={
            **os.environ,
            **env
        }, capture_output=True)
        for daemon in reversed(daemons):  # the ones this function started, by their id
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(timeout=20)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()


def _start(command: list[str], folder: Path) -> subprocess.Popen:
    log = open(folder / f"{command[0]}.out", "wb")  # noqa: SIM115 -- the daemon's own, closed with the process
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _node_idle(env: dict[str, str]) -> bool:
    state = subprocess.run(["sinfo", "--noheader", "--format=%t"], env={**os.environ, **env},
                           capture_output=True, text=True).stdout
    return state.strip() in ("idle", "mix")


def _wait(condition, what: str, folder: Path, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {path.name}\n{path.read_text(errors='replace')[-1500:]}"
                             for path in sorted(folder.glob("*.log")) +
                             sorted(folder.glob("*.out")))
            raise RuntimeError(f"{what} did not come up within {seconds:g} s:\n{logs}")
        time.sleep(0.2)
