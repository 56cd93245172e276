"""Secrets never reach the store; the runs commands work end to end."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
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


# --- credentials in URLs and echoed by servers, end to end through `ttc run` ----------------

URL_PASS = "URL-PASS-0123456789"
API_KEY = "sk-live-KEY-0123456789"
SOURCE_PASS = "ARCHON-PASS-0123"
ECHOING = """\
name: leaky
source: {{format: archon, config: {{url: "http://archon:{source_pass}@example.invalid"}}}}
models:
  m:
    runtime: openai
    model: gpt-test
    options:
      base_url: "http://svc:{url_pass}@127.0.0.1:{port}/v1"
      api_key: "{api_key}"
limits: {{retries: 0}}
stages:
  - use: sample
"""


class _EchoingHandler(BaseHTTPRequestHandler):
    """An OpenAI-compatible endpoint that refuses every request and, like some servers do,
    quotes the credentials it received in its error."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        auth = self.headers.get("Authorization", "")
        scheme, _, value = auth.partition(" ")
        if scheme == "Basic":
            value = base64.b64decode(value).decode()
        message = (f"Incorrect API key provided: {value}. You sent Authorization: {auth}; "
                   f"no account matches {value}")  # the last one only a known secret masks
        body = json.dumps({"error": {"message": message, "type": "invalid_request_error",
                                     "code": "invalid_api_key"}}).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def echoing_server() -> Iterator[tuple[ThreadingHTTPServer, list[str]]]:
    seen: list[str] = []

    class Handler(_EchoingHandler):
        def do_POST(self) -> None:
            seen.append(self.headers.get("Authorization", ""))
            super().do_POST()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, seen
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("as_json", [False, True], ids=["human", "json"])
def test_credentials_in_base_url_and_echoed_errors_reach_neither_store_nor_terminal(
        echoing_server, tmp_path: Path, as_json: bool) -> None:
    server, seen = echoing_server
    db = tmp_path / "x.db"
    path = tmp_path / "leaky.yaml"
    path.write_text(ECHOING.format(port=server.server_address[1], url_pass=URL_PASS,
                                   api_key=API_KEY, source_pass=SOURCE_PASS))
    code, out, err = finish(ttc("run", str(path), "-i", "What is 2+2?", "--db",
                                f"sqlite:///{db}", *(["--json"] if as_json else [])))
    assert seen, "the run must have reached the server (and been refused)"
    assert code == 1, err
    terminal = out + err
    assert "Incorrect API key provided: ***" in " ".join(terminal.split())
    leaks = (URL_PASS, API_KEY, SOURCE_PASS)
    assert not [s for s in leaks if s in terminal], terminal

    store = RunStore.open(f"sqlite:///{db}")
    (run,) = store.list_runs()
    stored = store.get_run(run.id)
    assert stored.status == "failed" and "401" in (stored.error or "")
    assert "http://svc:" not in stored.recipe_text and "http://***@127.0.0.1:" in \
        stored.recipe_text and "http://***@example.invalid" in stored.recipe_text
    exported = json.dumps(store.export_run(run.id))
    assert "Incorrect API key provided: ***" in exported
    store.close()
    code, out, err = finish(ttc("runs", "export", run.id, "--db", f"sqlite:///{db}"))
    assert code == 0 and not [s for s in leaks if s in out + err]
    files = [p for p in tmp_path.iterdir() if p.name.startswith("x.db")]
    for file in files:
        data = file.read_bytes()
        assert not [s for s in leaks if s.encode() in data], file


def test_a_url_credential_in_a_runtime_error_is_masked_on_the_terminal(tmp_path: Path) -> None:
    """sglang names its URL when nothing answers there; the password must not follow."""
    path = tmp_path / "down.yaml"
    path.write_text("name: down\nmodels:\n  m:\n    runtime: sglang\n    options:\n"
                    f'      url: "http://svc:{URL_PASS}@127.0.0.1:9"\n'
                    "      connect_timeout_s: 2\nstages:\n  - use: sample\n")
    code, out, err = finish(ttc("run", str(path), "-i", "q", "--no-record"))
    assert code != 0
    assert URL_PASS not in out + err and "http://***@127.0.0.1:9" in err, err


def test_the_largest_seed_is_recorded(tmp_path: Path) -> None:
    from scripted_recipes import recipe

    url = f"sqlite:///{tmp_path / 'seed.db'}"
    path = tmp_path / "r.yaml"
    path.write_text(recipe(tag="seed", revise=False))
    code, out, err = finish(ttc("run", str(path), "-i", "q", "--db", url, "--json",
                                "--seed", str(2**63 - 1)))
    assert code == 0, err
    store = RunStore.open(url)
    assert store.get_run(json.loads(out)["run_id"]).seed == 2**63 - 1
    store.close()
    code, out, err = finish(ttc("run", str(path), "-i", "q", "--db", url, "--seed",
                                str(2**63)))
    assert code == 2 and "--seed must be an integer from 0 to 2**63-1" in " ".join(err.split())
