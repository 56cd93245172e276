"""``ttc ui``: served on 127.0.0.1 unless told otherwise, ``--db`` passed to the app as its
own argument, headless, tracebacks kept out of the browser."""

from __future__ import annotations

import subprocess
import sys

from ttc.ui.command import APP, streamlit_command
from ttc.ui.settings import parse_args


def option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_the_server_binds_to_localhost_by_default_and_gets_the_store_after_dashes() -> None:
    command = streamlit_command(db="sqlite:///x.db")
    assert command[1:5] == ["-m", "streamlit", "run", str(APP)]
    assert option(command, "--server.address") == "127.0.0.1"
    assert option(command, "--server.headless") == "true"
    assert option(command, "--client.showErrorDetails") == "none"
    assert command[-3:] == ["--", "--db", "sqlite:///x.db"]
    assert "--" not in streamlit_command()
    assert option(streamlit_command(host="0.0.0.0", port=9000), "--server.port") == "9000"


def test_the_app_reads_only_its_own_arguments() -> None:
    assert parse_args(["--db", "sqlite:///a.db"]).db == "sqlite:///a.db"
    assert parse_args(["tests/ui", "-q", "--db=sqlite:///b.db", "-x"]).db == "sqlite:///b.db"
    assert parse_args(["-q"]).db is None


def test_ttc_ui_is_a_command_with_db_host_and_port() -> None:
    done = subprocess.run([sys.executable, "-m", "ttc", "ui", "--help"], capture_output=True,
                          text=True, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0
    for name in ("--db", "--host", "--port", "127.0.0.1"):
        assert name in done.stdout


def test_a_store_that_cannot_be_opened_is_one_line_before_any_server_starts(tmp_path) -> None:
    bad = tmp_path / "not-a-store.db"
    bad.write_bytes(b"this is not sqlite at all")
    done = subprocess.run([sys.executable, "-m", "ttc", "ui", "--db", f"sqlite:///{bad}"],
                          capture_output=True, text=True, timeout=60,
                          env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 3
    assert "is not a SQLite database" in done.stderr and "Traceback" not in done.stderr
