"""Secrets never reach the store; the runs commands work end to end."""

from __future__ import annotations

import json
from pathlib import Path

from test_recording import record
from test_reliability import finish, ttc

from ttc.plugin_system import PluginHost
from ttc.storage import RunStore

SECRET = "sk-live-THIS-MUST-NOT-LEAK-0123456789"

KEYED = f"""\
name: keyed
models:
  m:
    runtime: keyed
    model: keyed-secret
    options: {{api_key: "{SECRET}", responses: ["The answer is 4"]}}
task: number
stages:
  - use: sample
    model: m
    n: 2
select:
  use: majority
"""


def test_an_api_key_in_options_never_appears_in_the_store(store_url: str, host: PluginHost,
                                                          tmp_path: Path) -> None:
    store = RunStore.open(store_url)
    _, result = record(store, host, KEYED, task=f"echo {SECRET} back")
    assert result.status == "succeeded"
    run = store.get_run(result.run_id)
    assert 'api_key: "***"' in run.recipe_text
    assert SECRET not in json.dumps(store.export_run(result.run_id))
    store.close()
    if store_url.startswith("sqlite"):
        folder = Path(store_url.removeprefix("sqlite:///")).parent
        files = [p for p in folder.iterdir() if p.name.startswith("runs.db")]
        assert files
        for path in files:
            assert SECRET.encode() not in path.read_bytes(), path
    else:
        import psycopg

        schema = store_url.rsplit("%3D", 1)[1]
        with psycopg.connect("host=127.0.0.1 user=postgres dbname=test") as conn:
            for table in ("ttc_runs", "ttc_stages", "ttc_candidates", "ttc_model_calls"):
                dump = conn.execute(f"SELECT t::text FROM {schema}.{table} t").fetchall()
                assert dump and not any(SECRET in row[0] for row in dump), table


def test_runs_commands_end_to_end(tmp_path: Path) -> None:
    from scripted_recipes import recipe

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    path = tmp_path / "r.yaml"
    path.write_text(recipe(tag="cli", revise=False, extra_stages=1))
    code, out, err = finish(ttc("run", str(path), "-i", "What is 2+2?", "--db", url, "--json"))
    assert code == 0, err
    run_id = json.loads(out)["run_id"]

    code, out, err = finish(ttc("runs", "list", "--db", url, "--json", "--status", "succeeded"))
    assert code == 0 and [r["id"] for r in json.loads(out)] == [run_id]
    code, out, err = finish(ttc("runs", "show", run_id[:8], "--db", url))
    assert code == 0 and "1-sample" in out and "2-sample" in out and "ledger" in out

    code, out, err = finish(ttc("replay", run_id, "--db", url, "--json"))
    assert code == 0, err
    report = json.loads(out)
    assert report["identical"] and report["made"] == 0 and report["served"] == 2

    other = tmp_path / "other.yaml"
    other.write_text(recipe(tag="cli", revise=False, extra_stages=2))
    code, out, err = finish(ttc("replay", run_id, "--db", url, "--recipe", str(other),
                                "--strict"))
    err = " ".join(err.split())
    assert code == 1 and "stage 3-sample" in err and "not in the recording" in err

    code, out, err = finish(ttc("runs", "export", run_id, "--db", url))
    exported = json.loads(out)
    assert exported["run"]["id"] == run_id and len(exported["model_calls"]) == 2

    code, out, err = finish(ttc("runs", "delete", run_id, "--db", url))
    assert code == 0
    code, out, err = finish(ttc("runs", "list", "--db", url, "--json"))
    assert [r["id"] for r in json.loads(out)] == [report["run_id"]]

    code, out, err = finish(ttc("run", str(path), "-i", "q", "--db", url, "--no-record"))
    assert code == 0
    code, out, err = finish(ttc("runs", "list", "--db", url, "--json"))
    assert len(json.loads(out)) == 1
