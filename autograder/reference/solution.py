"""Where the kit's files are, and the reference micrograd loaded under a private name.

The reference is never installed as `micrograd`: that name belongs to the student's
package, and an installed copy must never stand in for a student's missing file.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from functools import cache
from pathlib import Path
from types import ModuleType

from mgkit_checks.course import COURSE

KIT_ROOT = Path(__file__).resolve().parents[2]  # the kit's code and docs
COURSE_ROOT = COURSE.root  # the course's: course.toml, solutions/, assignments/ (the kit's own by default)
SOLUTIONS_DIR = COURSE_ROOT / "solutions"
REFERENCE_PACKAGE_DIR = SOLUTIONS_DIR / "micrograd"
MODULES = ("engine", "nn", "train")  # the student package's graded modules, in import order
PRIVATE_NAME = "mgkit_reference_micrograd"


class KitLayoutError(RuntimeError):
    """The kit's own files are not where they should be (a broken installation)."""


@cache
def load() -> ModuleType:
    """Import solutions/micrograd as a private package; its engine, nn and train are attributes."""
    init = REFERENCE_PACKAGE_DIR / "__init__.py"
    if not init.is_file():
        raise KitLayoutError(
            f"the reference solution is missing ({init}): install the kit from a clone with `pip install -e .`"
        )
    spec = importlib.util.spec_from_file_location(
        PRIVATE_NAME, init, submodule_search_locations=[str(REFERENCE_PACKAGE_DIR)]
    )
    package = importlib.util.module_from_spec(spec)
    sys.modules[PRIVATE_NAME] = package
    spec.loader.exec_module(package)
    for name in MODULES:
        importlib.import_module(f"{PRIVATE_NAME}.{name}")
    return package
