"""The UI as a default plugin: adds the ``ttc ui`` command. Importing it is free (no typer,
no Streamlit); the command's module loads when the CLI registers its commands."""

from __future__ import annotations

from typing import Any

from ttc.plugin_system import hookimpl


@hookimpl
def ttc_register_commands(cli: Any) -> None:
    from ttc.ui.command import ui

    cli.command("ui")(ui)
