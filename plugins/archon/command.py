"""The ``ttc import-archon`` command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console

from ttc.errors import UsageError
from ttc.plugin_system import default_host
from ttc.plugins.archon.importer import convert


def import_archon(
    config: Annotated[Path, typer.Argument(help="An Archon JSON config.",
                                           show_default=False)],
    runtime: Annotated[str | None, typer.Option(
        help="Put every model on this ttc runtime (e.g. local) instead of mapping "
             "model_type.")] = None,
) -> None:
    """Convert an Archon JSON config into a ttc recipe (YAML on stdout, report on stderr)."""
    err = Console(stderr=True, soft_wrap=True)  # a warning is one line, however long
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read {config}: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{config}: an Archon config is a JSON object with 'layers'")
    registry = default_host().registry
    result = convert(data, runtime=runtime, registered=registry.runtimes,
                     known_components=registry.components)
    for warning in result.warnings:
        err.print(f"[yellow]warning:[/] {warning}", highlight=False)
    if result.errors:
        raise UsageError("cannot import: " + "; ".join(result.errors))
    header = ["# Imported from an Archon config by `ttc import-archon`; the original config",
              "# is kept under `source:` (ignored by runs, exported with them).", "# Notes:"]
    header += [f"#  - {w}" for w in result.warnings]
    typer.echo("\n".join(header))
    typer.echo(yaml.safe_dump(result.recipe, sort_keys=False, allow_unicode=True), nl=False)
