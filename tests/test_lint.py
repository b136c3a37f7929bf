"""The kit's own code stays ruff clean (config in pyproject.toml; generated folders excluded)."""

from __future__ import annotations

import subprocess
import sys

from autograder.reference.solution import KIT_ROOT


def test_ruff_is_clean():
    # the running interpreter's ruff (the test extra's), found also when its venv is not activated
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--quiet", str(KIT_ROOT)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
