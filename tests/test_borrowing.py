"""No worker holds a working solution of the task it judges, nor the numbers it is judged by.

A submission whose code searches the worker's memory (the garbage collector, sys.modules, the
frames above it) for any function that could do its task, and tries each one on a small graph,
a module or a model of its own, reports what worked. In the worker of topo_sort nothing sorts,
in zero_grad's nothing zeroes, in training_loop's nothing trains, and in none is there a
function that gives the expected numbers. The same search, run where those functions are
loaded (this test's process), finds them: the search is real.
"""

from __future__ import annotations

import re

import pytest
from mutants import Edit, apply

from autograder.grading.loop import grade

SEED = 31

CENSUS = '''
def _census(Value):
    """What in this process could do the task for me: each candidate is tried, not just named."""
    import gc, sys, sysconfig, types
    found = set()
    # every function but the student's own, Python's and numpy's (calling those blindly only costs
    # time)
    paths = sysconfig.get_paths()
    libraries = tuple({paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")})
    functions = [obj for obj in gc.get_objects() if isinstance(obj, types.FunctionType)
                 and not (obj.__module__ or "").startswith("micrograd")
                 and not obj.__code__.co_filename.startswith(libraries)]
    for frame_depth in range(50):
        try:
            frame = sys._getframe(frame_depth)
        except ValueError:
            break
        functions += [obj for obj in {**frame.f_globals, **frame.f_locals}.values()
                      if isinstance(obj, types.FunctionType)
                      and not obj.__code__.co_filename.startswith(libraries)]
    for module in list(sys.modules.values()):
        functions += [obj for obj in vars(module).values() if isinstance(obj, types.FunctionType)
                      and not obj.__code__.co_filename.startswith(libraries)] if module else []
    if any(name.startswith("mgkit_checks.expect") and sys.modules[name]
           for name in list(sys.modules)):
        found.add("expected numbers")
    for function in {id(f): f for f in functions}.values():
        if (function.__module__ or "").startswith("micrograd"):
            continue  # the student's own code
        name = function.__name__.lower()
        if function.__module__ == "mgkit_checks.expect":
            found.add("expected numbers")
        words = ("topo", "order", "sort", "travers", "visit", "walk", "backward")
        if any(word in name for word in words):
            a, b = Value(2.0), Value(3.0)
            c = a * b
            out = c + a
            try:
                result = function(out)
            except BaseException:
                result = None
            everyone = {id(a), id(b), id(c), id(out)}
            if isinstance(result, list) and {id(x) for x in result} >= everyone:
                found.add("a sort")
        if any(word in name for word in ("zero", "clear", "reset")):
            class Module:
                def __init__(self):
                    self.ps = [Value(1.0), Value(2.0)]
                def parameters(self):
                    return self.ps
            module = Module()
            for p in module.ps:
                p.grad = 5.0
            try:
                function(module)
            except BaseException:
                pass
            if all(p.grad == 0 for p in module.ps):
                found.add("a zero_grad")
        if any(word in name for word in ("train", "fit", "step", "descent", "update", "loop")):
            class Model:
                def __init__(self):
                    self.w = Value(0.5)
                def __call__(self, x):
                    return self.w * x[0]
                def parameters(self):
                    return [self.w]
                def zero_grad(self):
                    self.w.grad = 0.0
            model = Model()
            data = (model, [[1.0], [2.0]], [1.0, -1.0])
            for args in (data, (*data, 1)):
                try:
                    function(*args)
                except BaseException:
                    pass
            if model.w.data != 0.5:
                found.add("a training routine")
    return "census: " + (", ".join(sorted(found)) or "nothing")
'''

# Each task's own code runs the census and raises what it found: the feedback carries it.
CENSUS_IN_EVERY_TASK = Edit("a census of the worker's memory", (
    ("engine", "class Value:", CENSUS + "\n\nclass Value:"),
    ("engine", "self.grad += other.data * out.grad\n            other.grad += self.data * out.grad",
     "raise RuntimeError(_census(Value))"),
    ("engine", "        ### BEGIN SOLUTION topo_sort\n", "        ### BEGIN SOLUTION topo_sort\n"
     "        raise RuntimeError(_census(Value))\n"),
    ("nn", "        for p in self.parameters():\n            p.grad = 0.0\n",
     "        from .engine import _census\n        raise RuntimeError(_census(Value))\n"),
    ("train", "        model.zero_grad()\n", "        from .engine import _census\n"
     "        raise RuntimeError(_census(Value))\n"),
))


def census_of(feedback: str) -> str:
    found = re.search(r"census: ([a-z ,_]+)", feedback)
    assert found, feedback
    return found.group(1).strip()


@pytest.fixture(scope="module")
def census(tmp_path_factory) -> dict[str, str]:
    folder = apply(CENSUS_IN_EVERY_TASK, tmp_path_factory.mktemp("census") / "student")
    results = grade(folder, SEED)
    return {task.task_id: task.feedback for task in results.tasks}


def test_no_worker_holds_a_solution_of_its_task_or_the_expected_numbers(census):
    assert census_of(census["topo_sort"]) == "nothing"  # no sort beside the student's backward()
    # nn and train run on the trusted engine, which sorts; but nothing there zeroes or trains for
    # them
    assert census_of(census["zero_grad"]) in ("nothing", "a sort")
    assert census_of(census["training_loop"]) in ("nothing", "a sort")
    # a closure's worker may sort, never judge
    assert census_of(census["mul_backward"]) in ("nothing", "a sort")


def test_the_same_search_finds_what_is_loaded_where_it_is(tmp_path):
    """In this process the kit's sort, the trusted engine and the expected numbers are loaded: all
    are found."""
    import importlib

    importlib.import_module("autograder.sandboxed.trusted")
    importlib.import_module("mgkit_checks.expect")
    namespace: dict = {}
    exec(CENSUS, namespace)  # noqa: S102 - the test's own code
    from autograder.sandboxed.trusted import Value

    found = namespace["_census"](Value)
    assert "a sort" in found and "expected numbers" in found, found


def test_a_backward_that_borrows_a_sort_earns_nothing(tmp_path):
    """It would pass where a sort is loaded (the same search finds one in this process); in the
    worker it finds none."""
    borrowing = Edit("borrows any sort it can find", (
        ("engine", "class Value:", CENSUS + "\n\nclass Value:"),
        ("engine", "        ### BEGIN SOLUTION topo_sort\n",
         "        ### BEGIN SOLUTION topo_sort\n"
         "        _borrow_and_run(self)\n        return\n"),
        ("engine", "class Value:", BORROW + "\n\nclass Value:"),
    ))
    results = grade(apply(borrowing, tmp_path / "student"), SEED)
    topo = next(task for task in results.tasks if task.task_id == "topo_sort")
    # it searched, and found no sort
    assert not topo.passed and "nothing to borrow" in topo.feedback, topo.feedback


BORROW = '''
def _borrow_and_run(out):
    """backward() without writing one: any function here that orders a graph will do."""
    import gc, sysconfig, types
    paths = sysconfig.get_paths()
    libraries = tuple({paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")})
    words = ("topo", "order", "sort", "travers", "visit", "walk")
    for function in [obj for obj in gc.get_objects() if isinstance(obj, types.FunctionType)]:
        name = function.__name__.lower()
        if ((function.__module__ or "").startswith("micrograd")
                or function.__code__.co_filename.startswith(libraries)
                or not any(word in name for word in words)):
            continue
        try:
            order = function(out)
        except BaseException:
            continue
        if isinstance(order, list) and order and order[-1] is out:
            out.grad = 1.0
            for node in reversed(order):
                node._backward()
            return
    raise RuntimeError("nothing to borrow")
'''
