"""A store made by an older ttc (schema 0002) upgrades in place and keeps its runs."""

from __future__ import annotations

import sqlite3

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine

from ttc.storage.store import MIGRATIONS, RunStore


def test_a_0002_store_upgrades_to_0003_keeping_its_rows(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0002")
    engine.dispose()
    with sqlite3.connect(tmp_path / "old.db") as db:
        db.execute("INSERT INTO ttc_runs (id, recipe_name, recipe_text, recipe_hash, source, "
                   "task, seed, status, started_at, prompt_tokens, cached_tokens, "
                   "completion_tokens, calls, failed_calls, resumes) VALUES ('r-old', 'x', "
                   "'', 'h', '', '{}', 0, 'succeeded', '2026-01-01', 0, 0, 0, 0, 0, 0)")
        db.execute("INSERT INTO ttc_candidates (run_id, id, seq, stage, component, model, "
                   "text, parents, scores, feedback, origin) VALUES ('r-old', 'c-1', 0, 's',"
                   " 'sample', '', 'hi', '[]', '{}', '{}', '{}')")
    store = RunStore.open(url)
    assert store.schema_version() == "0003"
    run = store.get_run("r-old")
    assert run.candidates[0].text == "hi" and run.candidates[0].artifacts is None
