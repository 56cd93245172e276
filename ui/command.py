"""``ttc ui``: start the Streamlit app on this machine.

The app is served on 127.0.0.1 unless ``--host`` says otherwise, and takes ``--db`` like every
other command (passed to the app script after ``--``). This module stays cheap to import
(``ttc ui`` loads it): Streamlit is only imported by the process it starts.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from ttc.extras import require

APP = Path(__file__).with_name("app.py")
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8501
MAX_UPLOAD_MB = 1
"""Recipes are small text files; nothing bigger is ever uploaded."""


def streamlit_command(*, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
                      db: str | None = None) -> list[str]:
    """The command line that serves the app: headless (no browser is opened), no file
    watcher, no usage statistics, tracebacks kept out of the browser."""
    command = [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.address", host,
        "--server.port", str(port),
        "--server.headless", "true",
        "--server.fileWatcherType", "none",
        "--server.runOnSave", "false",
        "--server.maxUploadSize", str(MAX_UPLOAD_MB),
        "--browser.gatherUsageStats", "false",
        "--client.showErrorDetails", "none",
        "--client.toolbarMode", "viewer",
        "--global.developmentMode", "false",
    ]
    if db:
        command += ["--", "--db", db]
    return command


def ui(
    db: Annotated[str | None, typer.Option(
        "--db", help="Run store URL (default: TTC_DATABASE_URL, else the SQLite file in the "
        "user data folder).", show_default=False)] = None,
    host: Annotated[str, typer.Option(
        help="Address to listen on. The default serves this machine only; another address "
        "exposes the app (and the recipes it can run) to that network.")] = DEFAULT_HOST,
    port: Annotated[int, typer.Option(help="Port to listen on.")] = DEFAULT_PORT,
) -> None:
    """Open the ttc UI: build recipes, run them, inspect and re-select recorded runs."""
    require("ui", "ttc ui")
    from ttc.storage.store import RunStore

    RunStore.open(db).close()  # a bad store is one clear line here, not an error page
    command = streamlit_command(host=host, port=port, db=db)
    typer.echo(f"ttc ui: http://{host}:{port}  (Ctrl-C stops it)", err=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(command[0], command)  # the server takes this process's place (and its signals)
