"""A fake worker entry whose verdicts are the kit's own: a task passes exactly when the fake
submission's `answer(task_id, seed)` is right (tests/fake_entry.py).

The zygote imports this module before it closes the kit, and with it the text of the course's
reference solution. In a worker, the submission's engine.py answers first (a
hang, a crash, a flood or a wrong answer fails the task as the student's code would); a right
answer is followed by the kit's real observation of the task on the reference. The parent then
judges that as it judges any submission: by the kit's checks, never by a fake's rule.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))  # the zygote loads this file alone: its neighbour too
from fake_entry import students_engine  # noqa: E402

from autograder.sandboxed import entry, observe  # noqa: E402
from mgkit_checks.course import in_use  # noqa: E402

FORBIDDEN_MODULES = entry.FORBIDDEN_MODULES  # the reference stays out under its own names
boot = entry.boot  # the course, read in the zygote as the kit's own entry reads it


class _Reference(importlib.abc.Loader):
    """Serves `micrograd` and its modules from the reference's text, read and compiled once in the
    zygote: each worker runs them afresh in modules of its own, so the harness's stand-ins (the
    trusted engine) apply as to a student's."""

    MODULES = ("engine", "nn", "train")
    CODE = {name: compile((in_use().root / "solutions" / "micrograd" / f"{name}.py").read_text(),
                          f"<the reference's {name}.py>", "exec") for name in MODULES}

    def find_spec(self, name, path=None, target=None):
        if name == "micrograd":
            spec = importlib.util.spec_from_loader(name, self, is_package=True)
            spec.submodule_search_locations = ["<the reference>"]
            return spec
        module = name.removeprefix("micrograd.")
        return importlib.util.spec_from_loader(name, self) if module in self.MODULES else None

    def exec_module(self, module) -> None:
        name = module.__name__.removeprefix("micrograd").lstrip(".")
        if name:
            exec(self.CODE[name], module.__dict__)  # noqa: S102


def _serve_the_reference() -> None:
    for name in [name for name in sys.modules if name.partition(".")[0] == "micrograd"]:
        del sys.modules[name]
    sys.meta_path.insert(0, _Reference())


def run(args: dict, imported) -> dict:
    """Ask the submission; a right answer gets the reference's observation, a wrong one raises."""
    said = students_engine(entry.under_the_grades_rules(args, imported)).answer(
        args["task"], args["seed"])
    if said != args["seed"] + len(args["task"]):
        raise AssertionError(f"answered {said!r}")
    _serve_the_reference()
    return observe(args["task"], args["seed"], lambda: None, args.get("passed", ()))
