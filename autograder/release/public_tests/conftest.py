"""The task table after every run, and the `preview` fixture: see mgkit_checks/plugin.py."""

from mgkit_checks.plugin import preview, pytest_addoption, pytest_configure  # noqa: F401
