"""``ttc serve``: any runtime over HTTP, speaking SGLang's native API and OpenAI's.

Importing this module stays cheap (no fastapi, no torch): the command's body imports what it
needs when it runs. Python API: ``ttc.plugins.server.app.create_app(runtime)`` and
``ttc.plugins.server.background.BackgroundServer(runtime)``.
"""

from __future__ import annotations

from typing import Any

from ttc.plugin_system import hookimpl


@hookimpl
def ttc_register_commands(cli: Any) -> None:
    from ttc.plugins.server.command import serve

    cli.command("serve")(serve)
