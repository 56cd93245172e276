"""Evaluation as a default plugin: ``ttc eval``, ``evals``, ``compare``, ``scaling`` and
``datasets``. Importing it is free; the commands' module loads when the CLI starts."""

from __future__ import annotations

from typing import Any

from ttc.plugin_system import hookimpl


@hookimpl
def ttc_register_commands(cli: Any) -> None:
    from ttc.plugins.evaluation.command import register

    register(cli)
