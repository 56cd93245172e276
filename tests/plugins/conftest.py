"""The kit's fixtures come from ttc's pytest plugin; register it here until ttc-orchestrator's
``pytest11`` entry point is installed (then pytest has it already and this does nothing)."""

from __future__ import annotations

import importlib

import pytest


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin("ttc"):
        config.pluginmanager.register(importlib.import_module("ttc.testing.pytest_plugin"),
                                      "ttc")
