"""The kit's tests run tools by name: nbgrader runs `alembic`, the workflows' steps run `pytest` and
`mgkit`, the first hour runs `python3`. They must be the running interpreter's, also when its
virtual environment is not activated (`.venv/bin/python -m pytest`)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest

import autograder.release  # noqa: F401 - before any test module imports nbformat: its IRI grammar waits

K = TypeVar("K")
T = TypeVar("T")


def pytest_configure() -> None:
    os.environ["PATH"] = os.pathsep.join([
        str(Path(sys.executable).parent),
        os.environ.get("PATH", "")
    ])


# ---- the order xdist hands modules out in ----------------------------------------------------
# A run lasts as long as its busiest worker, and xdist (--dist loadscope, --no-loadscope-reorder)
# hands whole modules out in collection order: the heaviest first, by the seconds their selected
# tests took when they last ran (pytest's cache), so a run ends on small modules; unmeasured ones
# by their number of tests, as xdist's own reorder would. The controller reads the cache once and
# hands it to every worker, so that all of them collect in the same order.
TEST_SECONDS = "mgkit/test-seconds"


def _measured(config: pytest.Config) -> dict[str, float]:
    cache = getattr(config, "cache", None)  # none under -p no:cacheprovider
    return cache.get(TEST_SECONDS, {}) if cache else {}


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:  # xdist's controller, as it starts each worker
    node.workerinput[TEST_SECONDS] = _measured(node.config)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    worker = getattr(config, "workerinput", None)
    seconds = worker.get(TEST_SECONDS, {}) if worker is not None else _measured(config)
    weight: dict[str, float] = {}
    count: dict[str, int] = {}
    for item in items:
        module = item.nodeid.partition("::")[0]
        weight[module] = weight.get(module, 0.0) + seconds.get(item.nodeid, 0.0)
        count[module] = count.get(module, 0) + 1
    # one key for all of a module's items, and a stable sort: a module's items stay together
    items.sort(key=lambda item: (-weight[item.nodeid.partition("::")[0]],
                                 -count[item.nodeid.partition("::")[0]]))


_took: dict[str, float] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _took[report.nodeid] = _took.get(report.nodeid, 0.0) + report.duration  # setup, call, teardown


def pytest_sessionfinish(session: pytest.Session) -> None:
    cache = getattr(session.config, "cache", None)
    if cache and not hasattr(session.config, "workerinput"):  # xdist's controller, or -n 0
        # the tests this run ran, by their new times; a partial run leaves the others as they were
        cache.set(TEST_SECONDS, {**_measured(session.config), **_took})


@pytest.fixture(scope="session")
def kit_sandbox():
    """A booted sandbox of the kit's own judge (default limits, the course in use) for every module
    whose tests grade through one and do not test isolation between grades: one per xdist worker
    and course, started once."""
    from autograder.grading.worker import TaskSandbox
    from mgkit_checks.course import in_use

    booted: dict[Path, TaskSandbox] = {}

    def for_the_course_in_use() -> TaskSandbox:
        course = in_use().path
        if course not in booted:
            booted[course] = TaskSandbox()
        return booted[course]

    yield for_the_course_in_use
    for sandbox in booted.values():
        sandbox.close()


def selected_params(request: pytest.FixtureRequest, name: str, test: str) -> set[Any]:
    """The values of parameter `name` that the run's selected items of `test` (in the requesting
    module) take: what a module fixture doing all their expensive work at once (through one sandbox,
    say) must do, and no more (`-m "not slow"` and `-k` select fewer)."""
    return {item.callspec.params[name] for item in request.session.items
            if item.module is request.module and item.originalname == test
            and name in getattr(getattr(item, "callspec", None), "params", {})}


@contextmanager
def started_together(calls: dict[K, Callable[[], T]]) -> Iterator[dict[K, Future[T]]]:
    """The calls started together, a thread each, while the block runs (all joined when it ends):
    for calls that mostly wait (on a child process, a deadline), so that their waits overlap with
    each other, and with what the block does, instead of adding up."""
    with ThreadPoolExecutor(max(1, len(calls))) as pool:
        yield {name: pool.submit(call) for name, call in calls.items()}


def all_at_once(calls: dict[K, Callable[[], T]]) -> dict[K, T]:
    """Each call's result, the calls made together (started_together)."""
    with started_together(calls) as futures:
        return {name: future.result() for name, future in futures.items()}
