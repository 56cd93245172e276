"""Recipes served as models: an OpenAI client asking for a recipe's name gets the recipe's
answer, usage counts every token the run spent, each request is a recorded run (its id in
``x-ttc-run-id``) that ``ttc runs list`` shows, and ``/v1/models`` lists the recipes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openai
import pytest

from ttc import Pipeline
from ttc.plugins.server.background import BackgroundServer
from ttc.storage import RunStore

SCRIPTED_RECIPE = """\
name: vote-of-three
models:
  m: {runtime: scripted, options: {responses: ["the answer is 42", "I think 7", "42"]}}
task: number
stages:
  - use: sample
    n: 3
    max_tokens: 8
select:
  use: majority
"""

LOCAL_RECIPE = """\
name: sample-two-pick-first
models:
  small: {runtime: local, options: {threads: 1}}
stages:
  - use: sample
    n: 2
    max_tokens: 8
    temperature: 0.7
select:
  use: first
"""


def ttc(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ttc", *args], capture_output=True,
                          text=True, env=env, timeout=120, check=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def recipe_server(tmp_path: Path, scripted_server: BackgroundServer):
    """A scripted server that also serves SCRIPTED_RECIPE, recording into its own store."""
    from tests.server.conftest import scripted_runtime

    path = tmp_path / "vote.yaml"
    path.write_text(SCRIPTED_RECIPE)
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    pipeline = Pipeline.from_yaml(path, store=url)
    with BackgroundServer(scripted_runtime(), recipes=[pipeline]) as server:
        yield server, url


def test_recipe_model_answers_chat_and_completions_with_its_runs_usage(recipe_server) -> None:
    server, url = recipe_server
    api = openai.OpenAI(base_url=server.url + "/v1", api_key="unused")
    ids = [m.id for m in api.models.list()]
    assert ids == ["scripted-model", "vote-of-three"]
    assert api.models.retrieve("vote-of-three").id == "vote-of-three"
    raw = api.chat.completions.with_raw_response.create(
        model="vote-of-three", messages=[{"role": "user", "content": "What is 6 x 7?"}], seed=3)
    run_id = raw.headers["x-ttc-run-id"]
    answer = raw.parse()
    assert answer.choices[0].message.content == "42"  # the majority of 42, 7, 42
    assert answer.choices[0].finish_reason == "stop"
    store = RunStore.open(url)
    try:
        calls = store.model_calls([run_id])
    finally:
        store.close()
    assert calls and answer.usage.completion_tokens == sum(c.completion_tokens for c in calls)
    assert answer.usage.prompt_tokens == sum(c.prompt_tokens for c in calls) > 0
    completion = api.completions.create(model="vote-of-three", prompt="What is 6 x 7?")
    assert completion.choices[0].text == "42"
    streamed = api.chat.completions.create(
        model="vote-of-three", messages=[{"role": "user", "content": "6 x 7?"}], stream=True,
        stream_options={"include_usage": True})
    chunks = list(streamed)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "42"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_recipe_model_refuses_sampling_fields_by_name(recipe_server) -> None:
    server, _ = recipe_server
    with httpx.Client(base_url=server.url) as http:
        for field, value in [("temperature", 0.5), ("max_tokens", 5), ("n", 2),
                             ("logprobs", True), ("stop", ["x"])]:
            response = http.post("/v1/chat/completions", json={
                "model": "vote-of-three", "messages": [{"role": "user", "content": "q"}],
                field: value})
            assert response.status_code == 400, (field, response.text)
            assert response.json()["error"]["param"] == field


def test_ttc_serve_recipe_runs_show_in_ttc_runs_list(tmp_path: Path) -> None:
    path = tmp_path / "vote.yaml"
    path.write_text(SCRIPTED_RECIPE)
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    port = free_port()
    env = {**os.environ, "TTC_DATABASE_URL": url, "COLUMNS": "200"}
    server = subprocess.Popen(
        [sys.executable, "-m", "ttc", "serve", "--runtime", "scripted", "--port", str(port),
         "--recipe", str(path), "--log-level", "warning"], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            assert time.monotonic() < deadline, "ttc serve did not start"
            time.sleep(0.1)
        api = openai.OpenAI(base_url=base + "/v1", api_key="unused")
        raw = api.chat.completions.with_raw_response.create(
            model="vote-of-three", messages=[{"role": "user", "content": "What is 6 x 7?"}])
        run_id = raw.headers["x-ttc-run-id"]
        assert raw.parse().choices[0].message.content == "42"
    finally:
        server.terminate()
        server.wait(timeout=30)
    listed = ttc("runs", "list", "--db", url, env=env)
    assert listed.returncode == 0, listed.stderr
    assert "vote-of-three" in listed.stdout
    as_json = ttc("runs", "list", "--db", url, "--json", env=env)
    runs = json.loads(as_json.stdout)
    assert [(r["id"], r["recipe"], r["status"], r["answer"]) for r in runs] == [
        (run_id, "vote-of-three", "succeeded", "42")]


@pytest.mark.model
def test_a_local_recipe_served_beside_the_model_it_shares(local_runtime, tmp_path: Path) -> None:
    path = tmp_path / "local.yaml"
    path.write_text(LOCAL_RECIPE)
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    pipeline = Pipeline.from_yaml(path, store=url)
    with BackgroundServer(local_runtime, recipes=[pipeline]) as server:
        api = openai.OpenAI(base_url=server.url + "/v1", api_key="unused")
        raw = api.chat.completions.with_raw_response.create(
            model="sample-two-pick-first", messages=[{"role": "user", "content": "Say hi"}],
            seed=1)
        answer = raw.parse()
        run_id = raw.headers["x-ttc-run-id"]
        plain = api.chat.completions.create(model=server_model(api), max_tokens=2,
                                            messages=[{"role": "user", "content": "Hi"}])
    assert plain.choices[0].message.content is not None
    assert pipeline.runtime("small").engine is local_runtime.engine  # one model in memory
    store = RunStore.open(url)
    try:
        calls = store.model_calls([run_id])
    finally:
        store.close()
    assert answer.choices[0].message.content
    assert answer.usage.completion_tokens == sum(c.completion_tokens for c in calls)
    assert 2 <= answer.usage.completion_tokens <= 16


def server_model(api: openai.OpenAI) -> str:
    return next(m.id for m in api.models.list() if m.id != "sample-two-pick-first")
