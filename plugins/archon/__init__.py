"""Archon compatibility: ``ttc import-archon config.json > recipe.yaml`` (docs/methods.md §9)."""

from __future__ import annotations

from typing import Any

from ttc.plugin_system import hookimpl


@hookimpl
def ttc_register_commands(cli: Any) -> None:
    from ttc.plugins.archon.command import import_archon

    cli.command("import-archon")(import_archon)
