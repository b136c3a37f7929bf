"""The kit's tests run tools by name: nbgrader runs `alembic`, the workflows' steps run `pytest` and
`mgkit`, the first hour runs `python3`. They must be the running interpreter's, also when its
virtual environment is not activated (`.venv/bin/python -m pytest`)."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def pytest_configure() -> None:
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
