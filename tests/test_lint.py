"""The kit's own code stays ruff clean (config in pyproject.toml; generated folders excluded)."""

from __future__ import annotations

import json
import subprocess
import sys

from autograder.reference.solution import KIT_ROOT


def test_ruff_is_clean():
    # the running interpreter's ruff (the test extra's), found also when its venv is not activated
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--quiet", str(KIT_ROOT)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_what_the_kit_generates_keeps_the_line_length():
    """The student's starter, checks and notebooks: ruff sees only the kit's own files."""
    width = 100  # pyproject.toml's [tool.ruff] line-length
    too_long = [f"{path.relative_to(KIT_ROOT)}:{number}"
                for path in sorted((KIT_ROOT / "release").rglob("*.py"))
                for number, line in enumerate(path.read_text().splitlines(), start=1)
                if len(line) > width]
    for notebook in sorted([
            *KIT_ROOT.glob("release/*/*.ipynb"), *KIT_ROOT.glob("assignments/*/*.ipynb")
    ]):
        cells = json.loads(notebook.read_text())["cells"]
        too_long += [f"{notebook.relative_to(KIT_ROOT)}: cell {index}"
                     for index, cell in enumerate(cells) if cell["cell_type"] == "code"
                     and any(len(line) > width for line in "".join(cell["source"]).splitlines())]
    assert not too_long
