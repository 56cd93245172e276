"""Opening a store twice in one process, while another process opens and closes it, loses
no write (a regression: a header check with a plain file handle dropped this process's
SQLite locks, so the other process deleted the WAL under the open connections)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

from scripted_recipes import recipe

from ttc.pipeline import Pipeline
from ttc.storage import RunStore


def test_writes_survive_another_process_closing_the_store(tmp_path, host) -> None:
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    first = RunStore.open(url)
    one = Pipeline.from_text(recipe(tag="lock-1"), host=host, store=first).run("q1")
    second = RunStore.open(url)  # the same file again, in the same process
    subprocess.run([sys.executable, "-c", "import sys; from ttc.storage import RunStore; "
                    "RunStore.open(sys.argv[1]).list_runs()", url], check=True, timeout=60)
    two = Pipeline.from_text(recipe(tag="lock-2"), host=host, store=second).run("q2")
    fresh = sqlite3.connect(tmp_path / "runs.db")
    ids = {row[0] for row in fresh.execute("SELECT id FROM ttc_runs")}
    assert {one.run_id, two.run_id} <= ids
    assert (tmp_path / "runs.db-wal").exists()  # still in WAL mode, file in place
