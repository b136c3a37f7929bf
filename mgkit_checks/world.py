"""What the preview and the grade share besides the checks: each task's time, and what code may
import.

Both sides read these, so that code that runs in the student's kit runs the same in the grade:

- a task's worker (the grade) and a task's deadline (the preview) get the same seconds
  (its definition's, tasks.seconds_for);
- student code may import the standard library, its own `micrograd` and the libraries below,
  which the student kit installs and every grade environment (`mgkit grade`, the Gradescope
  zip, the GitHub workflows) installs too. Any other import is refused on both sides, with the
  same words (`refused`), even where the library happens to be installed: a grade must not
  depend on the machine it runs on.
"""

from __future__ import annotations

import builtins
import importlib.util
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from types import FrameType, ModuleType
from typing import Any

# the libraries student code may import -> the requirement every environment installs
LIBRARIES = {"numpy": "numpy>=1.24", "matplotlib": "matplotlib>=3.7", "graphviz": "graphviz>=0.20"}
OWN_PACKAGE = "micrograd"


def requirements(libraries: Iterable[str] = LIBRARIES) -> list[str]:
    return [LIBRARIES[name] for name in libraries]


def may_import(module: str) -> bool:
    """Whether student code may import `module` ("matplotlib.pyplot", "os"): by its top-level
    package."""
    top = module.partition(".")[0]
    return (
        top in sys.stdlib_module_names
        or top in LIBRARIES
        or top == OWN_PACKAGE
        or top == "__future__"
    )


def refused(module: str) -> str:
    """The one message both sides give for an import the grade refuses."""
    offered = ", ".join(LIBRARIES)
    return (
        f"the grade cannot import {module.partition('.')[0]}: student code may import the standard"
        f" library, {offered} and its own micrograd, nothing else"
    )


@contextmanager
def import_rule() -> Iterator[None]:
    """While inside: an import statement in the student's files that the grade refuses raises
    ModuleNotFoundError, whether or not the module is installed (or already imported) here."""
    original = install_import_rule()
    try:
        yield
    finally:
        builtins.__import__ = original


def install_import_rule() -> Callable[..., Any]:
    """Guard every import statement from here on (the grade's worker never takes it off); the old
    __import__."""
    original = builtins.__import__

    def guarded(name: str, globals: dict | None = None, locals: dict | None = None, fromlist=(),
                level: int = 0):
        if level == 0 and not may_import(name) and _in_students_files(globals):
            raise ModuleNotFoundError(f"{refused(name)} ({os.path.basename(globals['__file__'])})",
                                      name=name)
        return original(name, globals, locals, fromlist, level)

    builtins.__import__ = guarded
    return original


def _in_students_files(globals: dict | None) -> bool:
    """Whether the importing module is one of the student's (a file in a folder named micrograd, as
    core.where says)."""
    file = (globals or {}).get("__file__")
    return isinstance(file, str) and os.path.basename(os.path.dirname(file)) == OWN_PACKAGE


def running_in_students_files(frame: FrameType | None) -> str:
    """Where the student's code was running in `frame`'s stack ("train.py, line 120"), innermost
    first; or ""."""
    while frame is not None:
        file = frame.f_code.co_filename
        if os.path.basename(os.path.dirname(file)) == OWN_PACKAGE:
            return f"{os.path.basename(file)}, line {frame.f_lineno}"
        frame = frame.f_back
    return ""


def slow_import(seconds: float, where: str) -> str:
    """What both sides say when importing the student's files used up the task's time."""
    at = f" ({where} was running when the time was up)" if where else ""
    return (
        f"importing your files took more than {seconds:g} s{at}: code at the top level of a module"
        ' runs whenever it is imported, so put a demo under `if __name__ == "__main__":`'
    )


def stand_in(module: str, **names: Any) -> ModuleType:
    """`micrograd.<module>` holding the kit's `names`; any other name asked of it comes from the
    student's own file, loaded only then. So a student's file whose import fails costs the tasks
    that use it, and no others, while a train.py that also takes draw_dot from engine.py still
    runs."""
    module_object = ModuleType(f"{OWN_PACKAGE}.{module}")
    module_object.__dict__.update(names)
    students = f"{OWN_PACKAGE}._students_{module}"

    def __getattr__(name: str) -> Any:
        # the import system asking about the module itself (__path__, ...)
        if name.startswith("__"):
            raise AttributeError(name)
        if students not in sys.modules:
            path = os.path.join(sys.modules[OWN_PACKAGE].__path__[0], f"{module}.py")
            spec = importlib.util.spec_from_file_location(students, path)
            sys.modules[students] = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(sys.modules[students])
        return getattr(sys.modules[students], name)

    module_object.__getattr__ = __getattr__
    return module_object
