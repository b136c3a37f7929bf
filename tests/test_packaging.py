"""The reference imports as a plain package, and installing the kit installs no `micrograd`.

The grader imports the student's `micrograd`: an installed copy could stand in for a missing file.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys

import pytest

from autograder.reference import solution as reference


def _python(*args: str, cwd) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=60)


IMPORT_THE_REFERENCE = """
import sys
sys.modules["autograder"] = None  # the kit is not needed: `import autograder` would fail
import micrograd, micrograd.engine, micrograd.nn, micrograd.train
from micrograd.engine import Value
from micrograd.nn import MLP
x = Value(0.5)
(x * x).tanh().backward()
print(micrograd.__file__)
print(len(MLP(3, [4, 4, 1]).parameters()), x.grad > 0)
"""


def test_the_reference_imports_as_a_plain_package_from_solutions():
    # -E -s: no PYTHON* variables, no user site (as -I), but the working folder stays on the path
    result = _python("-E", "-s", "-c", IMPORT_THE_REFERENCE, cwd=reference.SOLUTIONS_DIR)
    assert result.returncode == 0, result.stderr
    init, checks = result.stdout.splitlines()
    assert init == str(reference.REFERENCE_PACKAGE_DIR / "__init__.py")
    assert checks == "41 True"


FIND_MICROGRAD = """
import importlib.metadata, importlib.util
print(importlib.util.find_spec("micrograd"))
print(importlib.metadata.packages_distributions().get("micrograd"))
"""


def test_no_micrograd_is_installed(tmp_path):
    # -I: only the installed environment, neither the working folder nor PYTHONPATH
    result = _python("-I", "-c", FIND_MICROGRAD, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    spec, distributions = result.stdout.splitlines()
    assert (
        spec == "None"
    ), f"an installed `micrograd` would stand in for a student's: {spec}, from {distributions}"


def test_the_installed_kit_declares_only_autograder_and_its_checks():
    try:
        kit = importlib.metadata.distribution("micrograd-kit")
    except importlib.metadata.PackageNotFoundError:
        pytest.fail("the kit is not installed: run `pip install -e .[test]` first")
    assert sorted((kit.read_text("top_level.txt") or "").split()) == ["autograder", "mgkit_checks"]
    assert "mgkit" in {entry.name for entry in kit.entry_points if entry.group == "console_scripts"}


def test_the_package_config_finds_only_autograder_and_its_checks():
    # what a wheel would hold, from pyproject.toml itself, whatever this environment has installed
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    setuptools = pytest.importorskip("setuptools")
    config = tomllib.loads((reference.KIT_ROOT / "pyproject.toml").read_text())
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = setuptools.find_namespace_packages(where=str(reference.KIT_ROOT), include=include)
    assert "autograder" in packages and "mgkit_checks" in packages
    assert not [name for name in packages if name.split(".")[0] in ("micrograd", "solutions")]
