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

from mgkit_checks.course import in_use

KIT_ROOT = Path(__file__).resolve().parents[2]  # the kit's code and docs
MODULES = ("engine", "nn", "train")  # the student package's graded modules, in import order
PRIVATE_NAME = "mgkit_reference_micrograd"


class KitLayoutError(RuntimeError):
    """The kit's own files are not where they should be (a broken installation)."""


def __getattr__(name: str) -> Path:
    """The course in use's folders, read when asked (never at import time):
    COURSE_ROOT (course.toml, solutions/, assignments/), SOLUTIONS_DIR, REFERENCE_PACKAGE_DIR."""
    below = {
        "COURSE_ROOT": (),
        "SOLUTIONS_DIR": ("solutions", ),
        "REFERENCE_PACKAGE_DIR": ("solutions", "micrograd")
    }
    if name not in below:  # asked first: the import system asks a module for __path__ and the like
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return in_use().root.joinpath(*below[name])


def load() -> ModuleType:
    """Import the course in use's solutions/micrograd as a private package; its engine, nn and
    train are attributes."""
    return _load(in_use().root / "solutions" / "micrograd")


@cache
def _load(folder: Path) -> ModuleType:
    init = folder / "__init__.py"
    if not init.is_file():
        raise KitLayoutError(
            f"the reference solution is missing ({init}): install the kit from a clone with `pip"
            " install -e .`"
        )
    spec = importlib.util.spec_from_file_location(
        PRIVATE_NAME, init, submodule_search_locations=[str(folder)]
    )
    for name in [name for name in sys.modules if name.partition(".")[0] == PRIVATE_NAME]:
        del sys.modules[name]  # another course's reference, loaded before in this process
    package = importlib.util.module_from_spec(spec)
    sys.modules[PRIVATE_NAME] = package
    spec.loader.exec_module(package)
    for name in MODULES:
        importlib.import_module(f"{PRIVATE_NAME}.{name}")
    return package
