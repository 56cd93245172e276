"""The ledger's prompt tokens match what ``ttc serve`` reports: logical prompt tokens (each
prompt once, as the server's ``usage`` counts it) and prefilled tokens (what the server
computed: its prompt tokens minus its cached ones), for n-sample requests through the
``openai`` runtime. The ``usage`` of every answer the runtime receives is captured as it
arrives (the server's own numbers, before the runtime reads them)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ttc.pipeline import Pipeline
from ttc.plugins.runtimes.scripted import ScriptedOptions, ScriptedRuntime
from ttc.plugins.server.background import BackgroundServer


@pytest.fixture
def usages(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The ``usage`` of every completion answer the server sends back."""
    from ttc.plugins.runtimes.openai import runtime as openai_runtime

    seen: list[dict[str, Any]] = []
    read = openai_runtime._usage

    def capturing(usage: Any) -> tuple[int, int]:
        seen.append(usage.model_dump())
        return read(usage)

    monkeypatch.setattr(openai_runtime, "_usage", capturing)
    return seen


@pytest.fixture(scope="module")
def scripted_server() -> Iterator[BackgroundServer]:
    runtime = ScriptedRuntime("scripted-model", ScriptedOptions(responses=["4", "5", "4"]))
    with BackgroundServer(runtime) as server:
        yield server


def recipe(url: str, model: str) -> str:
    return f"""name: usage
models:
  m: {{runtime: openai, model: {model}, options: {{base_url: '{url}/v1', api_key: unused}}}}
limits: {{retries: 0}}
stages:
  - {{use: sample, n: 3, max_tokens: 4, temperature: 0.7}}
  - {{use: sample, n: 2, max_tokens: 4, temperature: 0.7}}
"""


def assert_ledger_matches(result: Any, usages: list[dict[str, Any]]) -> None:
    assert result.status == "succeeded", result.error
    total = result.ledger.total
    assert len(usages) == total.calls == 2
    prompt = sum(u["prompt_tokens"] for u in usages)
    cached = sum(u["prompt_tokens_details"]["cached_tokens"] for u in usages)
    assert total.prompt_tokens == prompt  # each request's prompt once, not n times
    assert total.cached_tokens == cached
    assert total.prefilled_tokens == prompt - cached  # what the server computed
    assert total.completion_tokens == sum(u["completion_tokens"] for u in usages)


def test_the_ledger_matches_the_servers_usage_for_n_sample_requests(
        scripted_server: BackgroundServer, usages: list[dict[str, Any]]) -> None:
    result = Pipeline.from_text(recipe(scripted_server.url, "scripted-model")).run("2+2?")
    assert_ledger_matches(result, usages)


@pytest.mark.model
def test_the_ledger_matches_the_servers_usage_with_prefix_cache_hits(
        served: BackgroundServer, usages: list[dict[str, Any]]) -> None:
    result = Pipeline.from_text(recipe(served.url, "smollm2-135m")).run(
        "What is 2 + 2? Answer with a number.")
    assert_ledger_matches(result, usages)
    assert result.ledger.total.cached_tokens > 0  # the second stage reused the prompt
