"""The kit's own code stays ruff clean (config in pyproject.toml; generated folders excluded)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from autograder.reference import KIT_ROOT


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff comes with the test extra: pip install -e '.[test]'")
def test_ruff_is_clean():
    result = subprocess.run(["ruff", "check", "--quiet", str(KIT_ROOT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
