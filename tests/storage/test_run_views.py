"""Recorded runs as ``ttc runs show`` and ``ttc runs export`` show them: each repeat round
with its own pool, calls, tokens and time; warnings (replies that never parsed) wherever the
run is shown; where the store is (``ttc runs path``)."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from test_recording import record
from test_reliability import finish, ttc

from ttc.plugin_system import PluginHost
from ttc.storage import RunStore
from ttc.storage.cli import run_tree
from ttc.storage.run_view import ROUND_SCOPE, stage_executions

REPEAT = """name: views
models:
  m:
    runtime: scripted
    model: scripted-views
    options: {responses: ['The answer is 4', 'The answer is 5'], rotate_by_seed: true}
task: number
seed: 3
stages:
  - use: sample
    n: 2
  - repeat:
      max_rounds: 3
      stages:
        - use: test_revise
select: {use: majority}
"""

UNPARSABLE_CRITIC = """name: critic-fails
models:
  m: {runtime: scripted, options: {responses: ['The answer is 4']}}
task: number
stages:
  - use: sample
    n: 2
  - use: critic
    parse_retries: 0
select: {use: majority}
"""


def text_of(run) -> str:
    console = Console(width=400, record=True)
    console.print(run_tree(run))
    return console.export_text()


def test_each_round_of_a_repeat_block_shows_its_own_pool_and_usage(
        store: RunStore, host: PluginHost) -> None:
    _, result = record(store, host, REPEAT)
    run = store.get_run(result.run_id)
    rounds = [e for e in stage_executions(run) if e.row.name == "2-repeat/1-test_revise"]
    assert [e.row.round for e in rounds] == [1, 2, 3]
    assert all(e.row.usage["scope"] == ROUND_SCOPE for e in rounds)
    assert [e.usage["calls"] for e in rounds] == [2, 2, 2]  # per round, not 2, 4, 6
    assert all(e.usage["wall_time"] <= e.row.wall_time + 1e-6 for e in rounds)
    pools = [[c.id for c in e.pool] for e in rounds]
    assert all(len(p) == 2 for p in pools) and len({i for p in pools for i in p}) == 6
    assert [c.origin["round"] for e in rounds for c in e.pool] == [1, 1, 2, 2, 3, 3]
    shown = text_of(run)
    for execution in rounds:  # a round's line is followed by its own candidates only
        line = next(i for i, text in enumerate(shown.splitlines())
                    if f"round {execution.row.round} " in text)
        below = shown.splitlines()[line + 1: line + 3]
        assert [c.id in " ".join(below) for c in execution.pool] == [True, True]
        assert "2 calls," in shown.splitlines()[line]


def test_stage_rows_recorded_with_the_meter_so_far_are_told_apart_by_difference(
        store: RunStore, host: PluginHost) -> None:
    _, result = record(store, host, REPEAT)
    from ttc.storage.models import StageRow

    def as_recorded_before(session) -> None:  # usage was the stage's meter across rounds
        rows = session.query(StageRow).filter(StageRow.run_id == result.run_id,
                                              StageRow.round > 0).order_by(StageRow.seq)
        for n, row in enumerate(rows, 1):
            row.usage = {k: v * n for k, v in row.usage.items() if k != "scope"}

    store.write(as_recorded_before)
    run = store.get_run(result.run_id)
    rounds = [e for e in stage_executions(run) if e.row.round]
    assert [e.usage["calls"] for e in rounds] == [2, 2, 2]


def test_a_reply_that_never_parsed_is_a_warning_in_the_store_show_and_export(
        store: RunStore, host: PluginHost) -> None:
    _, result = record(store, host, UNPARSABLE_CRITIC)
    assert result.status == "succeeded"
    (warning,) = result.warnings
    assert warning.kind == "parse_failure" and warning.stage == "2-critic"
    assert "no parsable reply after 1 attempt(s)" in warning.message
    run = store.get_run(result.run_id)
    assert run.ledger["warnings"] == [warning.to_dict()]
    critic = next(s for s in run.stages if s.name == "2-critic")
    assert critic.usage["warnings"] == 1
    exported = store.export_run(result.run_id)
    assert exported["warnings"] == [warning.to_dict()]
    shown = text_of(run)
    assert "with 1 warning(s)" in shown and "warnings (1)" in shown
    assert "parse_failure 2-critic critic" in shown


def test_ttc_run_prints_warnings_in_text_and_json(tmp_path: Path) -> None:
    path = tmp_path / "critic.yaml"
    path.write_text(UNPARSABLE_CRITIC)
    url = f"sqlite:///{tmp_path / 'w.db'}"
    code, out, err = finish(ttc("run", str(path), "-i", "2+2?", "--db", url, "--json"))
    assert code == 0, err
    data = json.loads(out)
    assert [w["kind"] for w in data["warnings"]] == ["parse_failure"]
    assert data["ledger"]["total"]["warnings"] == 1
    code, out, err = finish(ttc("run", str(path), "-i", "2+2?", "--db", url))
    assert code == 0 and "with 1 warning(s)" in out and "parse_failure" in out
    code, out, err = finish(ttc("runs", "show", data["run_id"], "--db", url))
    assert code == 0 and "warnings (1)" in out


def test_runs_path_shows_the_store_without_its_password(tmp_path: Path) -> None:
    db = tmp_path / "where.db"
    code, out, err = finish(ttc("runs", "path", "--db", f"sqlite:///{db}", "--json"))
    assert code == 0, err
    found = json.loads(out)
    assert found == {"url": f"sqlite:///{db}", "file": str(db), "exists": False,
                     "chosen_by": "--db"}
    secret = "postgresql+psycopg://ttc:hunter2-secret@db.example/runs"
    code, out, err = finish(ttc("runs", "path", env={"TTC_DATABASE_URL": secret}))
    assert code == 0 and "hunter2-secret" not in out + err
    assert "url: postgresql+psycopg://ttc:***@db.example/runs" in out
    assert "chosen by: TTC_DATABASE_URL" in out and "file:" not in out


def test_the_storage_plugin_adds_its_options_to_ttc_run() -> None:
    code, out, _ = finish(ttc("run", "--help", env={"COLUMNS": "200"}))
    assert code == 0 and "--db" in out and "--no-record" in out and "runs path" in out
