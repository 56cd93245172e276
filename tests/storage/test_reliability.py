"""kill -9 then resume, concurrent writers, and stores that must not be touched."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from scripted_recipes import recipe

from ttc.storage import RunStore, StoreError

pytestmark = pytest.mark.slow


def ttc(*args: str, env: dict[str, str] | None = None, **kwargs) -> subprocess.Popen:
    full_env = {**os.environ, "TTC_DISABLE_ENTRY_POINTS": "1", **(env or {})}
    full_env.pop("TTC_DATABASE_URL", None) if env is None or "TTC_DATABASE_URL" not in env \
        else None
    return subprocess.Popen([sys.executable, "-m", "ttc", *args], env=full_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def finish(proc: subprocess.Popen, timeout: float = 120) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def test_kill_9_then_resume_loses_and_repeats_nothing(store_url: str, tmp_path: Path) -> None:
    path = tmp_path / "slow.yaml"
    path.write_text(recipe(tag="kill", revise=False, extra_stages=6, latency=0.4))
    proc = ttc("run", str(path), "-i", "What is 2+2?", "--db", store_url, "--json")
    store = RunStore.open(store_url)
    deadline = time.monotonic() + 60
    recorded: list = []
    while time.monotonic() < deadline:
        runs = store.list_runs()
        if runs:
            recorded = store.model_calls([runs[0].id])
            if len(recorded) >= 3:
                break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    (run,) = store.list_runs()
    before = store.get_run(run.id)
    assert before.status == "running" and 3 <= len(before.model_calls) < 7

    code, out, err = finish(ttc("resume", run.id, "--db", store_url, "--json"))
    assert code == 0, err
    report = json.loads(out.strip().splitlines()[-1])
    after = store.get_run(run.id)

    # the same recipe, uninterrupted, elsewhere: the calls a whole run makes
    reference_url = f"sqlite:///{tmp_path / 'reference.db'}"
    code, out, err = finish(ttc("run", str(path), "-i", "What is 2+2?", "--db", reference_url,
                                "--json"))
    assert code == 0, err
    reference_store = RunStore.open(reference_url)
    (reference,) = reference_store.list_runs()
    reference = reference_store.get_run(reference.id)

    fingerprints = [c.fingerprint for c in after.model_calls if c.error is None]
    assert Counter(fingerprints) == Counter(c.fingerprint for c in reference.model_calls)
    assert len(fingerprints) == len(set(fingerprints)) == 7  # 0 lost, 0 duplicated
    assert report["served"] == len(before.model_calls)
    assert report["made"] == 7 - len(before.model_calls)
    assert after.status == "succeeded" and after.answer == reference.answer
    assert {c.id: c.text for c in after.candidates} == \
        {c.id: c.text for c in reference.candidates}
    print(f"kill -9 after {len(before.model_calls)} recorded calls; resume served "
          f"{report['served']}, made {report['made']}; lost 0, duplicated 0")


WORKER = """
import sys
from ttc.pipeline import Pipeline
pipeline = Pipeline.from_text(sys.argv[1])
for i in range(int(sys.argv[2])):
    result = pipeline.run(f"question {sys.argv[3]}-{i}")
    assert result.status == "succeeded", result.error
"""


def test_four_processes_write_concurrently(store_url: str) -> None:
    RunStore.open(store_url).close()  # create the schema (migration races are tested below)
    runs_each = 6
    text = recipe(tag="conc", revise=False, extra_stages=2)
    env = {"TTC_DATABASE_URL": store_url}
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, text, str(runs_each), str(w)],
                              env={**os.environ, **env, "TTC_DISABLE_ENTRY_POINTS": "1"},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for w in range(4)]
    results = [finish(p) for p in procs]
    for code, _, err in results:
        assert code == 0, err
        assert "locked" not in err and "not recorded" not in err, err
    store = RunStore.open(store_url)
    runs = store.list_runs(limit=None)
    assert len(runs) == 4 * runs_each
    assert all(r.status == "succeeded" for r in runs)
    calls = store.model_calls([r.id for r in runs])
    assert len(calls) == 4 * runs_each * 3
    for r in runs:
        full = store.get_run(r.id)
        assert len(full.stages) == 4 and len(full.model_calls) == 3 and full.candidates


def test_processes_opening_a_new_store_at_once_migrate_it_once(store_url: str) -> None:
    code = "import sys; from ttc.storage import RunStore; RunStore.open(sys.argv[1])"
    procs = [subprocess.Popen([sys.executable, "-c", code, store_url], stderr=subprocess.PIPE,
                              text=True) for _ in range(4)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    assert RunStore.open(store_url).schema_version() == "0003"  # the head, migrated once


# --- stores that must not be touched ----------------------------------------------------


def digest(path: Path) -> bytes:
    return path.read_bytes()


def test_corrupt_file_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    path.write_bytes(b"\x00garbage" * 500)
    with pytest.raises(StoreError, match="not a SQLite database"):
        RunStore.open(f"sqlite:///{path}")
    assert digest(path) == b"\x00garbage" * 500
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs.db"]


def test_truncated_sqlite_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    RunStore.open(f"sqlite:///{path}").close()
    data = path.read_bytes()
    path.write_bytes(data[:100] + b"\xff" * 2000)
    with pytest.raises(StoreError, match=r"cannot open the run store|not a ttc run store"):
        RunStore.open(f"sqlite:///{path}")


def test_foreign_sqlite_database_is_refused_untouched(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "app.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO users VALUES (1, 'ada')")
    before = digest(path)
    with pytest.raises(StoreError, match=r"not a ttc run store .*users"):
        RunStore.open(f"sqlite:///{path}")
    assert digest(path) == before


def test_newer_schema_is_refused_untouched(store_url: str) -> None:
    from sqlalchemy import text

    store = RunStore.open(store_url)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE ttc_schema_version SET version_num = '9999'"))
    store.close()
    with pytest.raises(StoreError, match="schema version '9999', newer than this ttc"):
        RunStore.open(store_url)
    from sqlalchemy import create_engine

    engine = create_engine(store_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM ttc_schema_version")).scalar() \
            == "9999"
        assert conn.execute(text("SELECT count(*) FROM ttc_runs")).scalar() == 0
    engine.dispose()


def test_read_only_location_is_a_clear_error() -> None:
    with pytest.raises(StoreError, match=r"cannot create the run store .*read-only location"):
        RunStore.open("sqlite:////sys/ttc-test/runs.db")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write read-only files")
def test_read_only_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    RunStore.open(f"sqlite:///{path}").close()
    before = digest(path)
    path.chmod(0o444)
    with pytest.raises(StoreError, match="read-only"):
        RunStore.open(f"sqlite:///{path}")
    assert digest(path) == before


def test_cli_reports_a_bad_store_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    path.write_text("not a database at all")
    code, _, err = finish(ttc("runs", "list", "--db", f"sqlite:///{path}"))
    assert code == 3
    assert err.startswith("error:") and "not a SQLite database" in err
    assert "Traceback" not in err
