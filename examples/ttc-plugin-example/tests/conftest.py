"""ttc's pytest plugin gives the kit's fixtures (``ttc_run_recipe``, ``ttc_run_store``,
``ttc_scripted``). Installing ttc-orchestrator registers it (entry point ``pytest11``); this
registers it too when running against a ttc without that entry point."""

from __future__ import annotations

import importlib

import pytest


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin("ttc"):
        config.pluginmanager.register(importlib.import_module("ttc.testing.pytest_plugin"),
                                      "ttc")
