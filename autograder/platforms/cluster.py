"""Clusters: a Kubernetes Indexed Job and a SLURM array that grade a class in shards, then merge.

Each recipe is a template (autograder/platforms/templates/) a course applies as it is, after naming the
kit's image (Kubernetes) or virtual environment (SLURM) once at its top. Every shard runs
`mgkit grade-all --shard I/N` on the whole class folder (classrun/shards.py picks its students), writes
its own folder, and a last step runs `mgkit grade-all --merge`: the gradebook one run gives.
"""

from __future__ import annotations

from pathlib import Path

TEMPLATES = Path(__file__).resolve().parent / "templates"
RECIPES = {"kubernetes": TEMPLATES / "grade-class-kubernetes.yml", "slurm": TEMPLATES / "grade-class.sbatch"}
DEFAULT_OUT = {"kubernetes": "grade-class.yml", "slurm": "grade-class.sbatch"}
NEXT_STEP = {"kubernetes": "name the kit's image in it, then `kubectl apply -f` it (docs/INSTRUCTORS.md)",
             "slurm": "name the kit's venv in it, then `bash` it on the login node (docs/INSTRUCTORS.md)"}


def recipe(platform: str) -> str:
    """The text of the cluster recipe for `platform` ("kubernetes" or "slurm")."""
    return RECIPES[platform].read_text()
