"""Clusters: a Kubernetes Indexed Job and a SLURM array that grade a class in shards, then merge.

Each recipe is a template (autograder/platforms/templates/) a course applies as it is, after naming
the kit's image (Kubernetes) or virtual environment (SLURM) once at its top. Every shard runs `mgkit
grade-all --shard I/N` on the whole class folder (classrun/shards.py picks its students), writes its
own folder, and a last step runs `mgkit grade-all --merge`: the gradebook one run gives.

The recipe carries the course it was exported with, so that every shard and the merge grade by it
whatever MGKIT_COURSE or folder a job starts in: SLURM names its course.toml (the nodes share a file
system), Kubernetes holds its course.toml and reference in a ConfigMap (the image holds only the
kit).
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from mgkit_checks.course import FILE_NAME, Course, in_use

TEMPLATES = Path(__file__).resolve().parent / "templates"
RECIPES = {
    "kubernetes": TEMPLATES / "grade-class-kubernetes.yml",
    "slurm": TEMPLATES / "grade-class.sbatch"
}
DEFAULT_OUT = {"kubernetes": "grade-class.yml", "slurm": "grade-class.sbatch"}
NEXT_STEP = {
    "kubernetes": "name the kit's image in it, then `kubectl apply -f` it (docs/INSTRUCTORS.md)",
    "slurm": "name the kit's venv in it, then `bash` it on the login node (docs/INSTRUCTORS.md)"
}
# below a course's root: the reference its checks compare with
REFERENCE = Path("solutions") / "micrograd"
DATA_INDENT = " " * 6  # the ConfigMap's data entries, in the Kubernetes template


def recipe(platform: str, course: Course | None = None) -> str:
    """The text of the cluster recipe for `platform` ("kubernetes" or "slurm"), grading by `course`
    (left out: the course in use)."""
    course = course or in_use()
    text = RECIPES[platform].read_text()
    if platform == "slurm":
        return text.replace("@MGKIT_COURSE@", shlex.quote(str(course.path)))
    files = course_files(course)
    data = "\n".join(f"{DATA_INDENT}{json.dumps(key)}: {_yaml_text(content)}"
                     for key, (_, content) in files.items())
    items = json.dumps([{"key": key, "path": path} for key, (path, _) in files.items()])
    return text.replace("@MGKIT_COURSE_DATA@", data).replace("@MGKIT_COURSE_ITEMS@", items)


def course_files(course: Course) -> dict[str, tuple[str, str]]:
    """What a course folder needs to grade by: ConfigMap key -> (its path below the folder, its
    text)."""
    reference = course.root / REFERENCE
    files = {FILE_NAME: (FILE_NAME, course.path.read_text())}
    for path in sorted(reference.glob("*.py")):
        files[f"reference.{path.name}"] = (str(REFERENCE / path.name), path.read_text())
    return files


def _yaml_text(text: str) -> str:
    """`text` as a YAML value under a data key: a literal block while that says it exactly, else
    JSON (one line, every character escaped; JSON is YAML)."""
    lines = text.split("\n")
    plain = (text.endswith("\n") and not text.endswith("\n\n") and not text.startswith((" ", "\n"))
             and all(line.isprintable() and "\t" not in line for line in lines))
    if not plain:
        return json.dumps(text)
    return "|\n" + "\n".join(f"{DATA_INDENT}  {line}" if line else "" for line in lines[:-1])
