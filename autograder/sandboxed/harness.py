"""The grade's harness: how the worker of each task runs the student's code (see
mgkit_checks.core.Harness).

Each worker holds only what its task needs, and no working solution of that task:
- the op closures and grad_accumulation: the student's engine, and the kit's traversal to run
  the closures of any graph (traversal.py: a working sort, but not in topo_sort's worker);
- topo_sort: the student's engine and nothing else;
- zero_grad and training_loop: the student's nn.py and train.py on the trusted engine
  (trusted.py), so that a bug in their engine costs only the engine's tasks. No zero_grad and
  no training routine is loaded in either.

The zygote reads traversal.py and trusted.py as text when it starts (after that it can import
nothing of the kit); a worker runs the parts its task needs and drops the rest before any
student code runs.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from pathlib import Path

from mgkit_checks import tasks
from mgkit_checks.core import Harness
from mgkit_checks.course import in_use
from mgkit_checks.training import FreshGradients
from mgkit_checks.world import stand_in  # the preview stands in for nn the same way

_SOURCES = {
    name: (Path(__file__).parent / f"{name}.py").read_text()
    for name in ("traversal", "trusted")
}


def parts_for(task_id: str) -> tuple[str, ...]:
    """The grade's own code the task's worker loads: its definition says (the kit's traversal, its
    engine)."""
    return tasks.definitions(in_use())[task_id].parts


def harness_for(task_id: str) -> Harness:
    """Import what the task runs of the student's package, with the kit's parts for that task
    only."""
    parts = _load(parts_for(task_id))
    _bare_package()
    if "trusted" not in parts:  # the student's engine; else the kit's, with nn and train
        value = importlib.import_module("micrograd.engine").Value
        return Harness(value, run_closures=parts["traversal"].kit_backward if parts else None)
    trusted = parts["trusted"]
    sys.modules["micrograd.engine"] = stand_in("engine", Value=trusted.Value)
    # the loop needs no nn.py of the student's, unless train.py asks for more
    if task_id == "training_loop":
        sys.modules["micrograd.nn"] = stand_in("nn", Module=FreshGradients)
    nn = importlib.import_module("micrograd.nn")
    train = importlib.import_module("micrograd.train")
    return Harness(trusted.Value, nn, train, grad_of=trusted.grad_at_last_backward)


def _load(names: tuple[str, ...]) -> dict[str, types.ModuleType]:
    """Run the named parts as modules of this package; every other part's text is gone from
    memory."""
    sources = {name: _SOURCES[name] for name in names}
    _SOURCES.clear()
    modules = {}
    for name, source in sources.items():
        module = types.ModuleType(f"{__package__}.{name}")
        module.__package__ = __package__
        sys.modules[module.__name__] = modules[name] = module
        exec(compile(source, f"<the kit's {name}>", "exec"), module.__dict__)  # noqa: S102 - the kit's own code
    return modules


def _bare_package() -> None:
    """`micrograd` as a bare package, so importing engine does not also import a broken nn.py."""
    spec = importlib.util.find_spec("micrograd")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("no micrograd package on the path")
    package = types.ModuleType("micrograd")
    package.__path__ = list(spec.submodule_search_locations)
    sys.modules["micrograd"] = package
