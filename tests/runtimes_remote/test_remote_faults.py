"""Fault injection: 500s, 429s, timeouts, dropped connections, malformed JSON and truncated
bodies are one retryable failed attempt in the runtime; the run's call gateway (the one
retry layer) retries them, records every attempt (a ``ttc_model_called`` with ``error``),
and a fault that persists ends as a recorded failure — never a hang. A 4xx is the request's
fault: not retried."""

from __future__ import annotations

import time

import pytest
from fault_server import FAULTS, RETRY_AFTER_S, FaultServer
from recipe_helpers import CallCollector, host_with

from ttc.background_loop import run_sync
from ttc.pipeline import Pipeline
from ttc.plugins.runtimes.local.model_files import prepare_model_folder
from ttc.plugins.runtimes.sglang import SGLangOptions, SGLangRuntime
from ttc.runtime import GenerateRequest, RequestError, RuntimeCallError, SamplingParams

RETRYABLE = [f for f in FAULTS if f != "http_400"]


def runtime_for(server: FaultServer, **options: object) -> SGLangRuntime:
    defaults: dict[str, object] = {"url": server.url, "timeout_s": 1.0}
    return SGLangRuntime.create("", SGLangOptions(**{**defaults, **options}))


REQUEST = GenerateRequest(prompt="Q: 6*7?", n=2, params=SamplingParams(max_tokens=2, seed=1))


@pytest.mark.parametrize("fault", RETRYABLE)
async def test_a_fault_is_one_retryable_attempt_inside_the_runtime(fault: str) -> None:
    with FaultServer([fault], hang_s=5) as server:
        runtime = runtime_for(server)
        started = time.monotonic()
        with pytest.raises(RuntimeCallError) as caught:
            await runtime.generate(REQUEST)
        elapsed = time.monotonic() - started
        assert server.generate_requests == 1  # no retry under the gateway's
        completions = await runtime.generate(REQUEST)  # the next attempt is answered
    assert caught.value.retryable and not isinstance(caught.value, RequestError)
    assert elapsed < 1.0 + 2  # one attempt of at most the 1 s timeout
    assert [c.text for c in completions] == [" 42", " 42"]
    assert completions[0].logprobs == (-0.5, -0.25) and completions[0].cached_tokens == 4


async def test_a_429_carries_the_servers_retry_after() -> None:
    with FaultServer(["http_429"]) as server, pytest.raises(RuntimeCallError) as caught:
        await runtime_for(server).generate(REQUEST)
    assert caught.value.retryable and caught.value.retry_after_s == RETRY_AFTER_S


async def test_client_error_is_not_retried() -> None:
    with FaultServer(always="http_400") as server, pytest.raises(
            RequestError, match="max_new_tokens too big"):
        await runtime_for(server).generate(REQUEST)
    assert server.generate_requests == 1


async def test_batch_layout_sends_per_sample_seeds() -> None:
    with FaultServer() as server:
        await runtime_for(server).generate(REQUEST)
    (body,) = server.bodies
    assert body["text"] == ["Q: 6*7?", "Q: 6*7?"]
    seeds = [p["sampling_seed"] for p in body["sampling_params"]]
    assert len(set(seeds)) == 2 and all("n" not in p for p in body["sampling_params"])


def fault_recipe(server: FaultServer, retries: int) -> str:
    tokenizer = str(prepare_model_folder("").path)
    return f"""
name: faults
models:
  m: {{runtime: sglang, options: {{url: '{server.url}', timeout_s: 1.0,
        tokenizer: '{tokenizer}'}}}}
limits: {{retries: {retries}, retry_backoff_s: 0.01, call_timeout_s: 10}}
stages:
  - {{use: sample, n: 2, max_tokens: 4}}
select: {{use: first}}
"""


def run_and_close(recipe: str, collector: CallCollector):
    """Run the recipe, then close the runtime's connections on the loop that opened them."""
    pipeline = Pipeline.from_text(recipe, host=host_with(collector))
    try:
        return pipeline.run("What is 6*7?")
    finally:
        run_sync(pipeline.runtime("m").aclose())


@pytest.mark.parametrize("fault", ["http_500", "http_429", "drop", "truncated", "timeout"])
def test_a_fault_is_retried_by_the_gateway_and_every_attempt_recorded(fault: str) -> None:
    with FaultServer([fault], hang_s=5) as server:
        collector = CallCollector()
        started = time.monotonic()
        result = run_and_close(fault_recipe(server, retries=2), collector)
        elapsed = time.monotonic() - started
    assert result.status == "succeeded" and result.answer is not None
    assert [(c.attempt, c.error is None) for c in collector.calls] == [(1, False), (2, True)]
    assert server.generate_requests == 2  # one request per gateway attempt
    assert result.ledger.total.failed_calls == 1 and result.ledger.total.calls == 1
    if fault == "http_429":  # the wait honoured the server's Retry-After
        assert elapsed >= RETRY_AFTER_S


@pytest.mark.parametrize("fault", ["http_500", "drop", "truncated", "timeout"])
def test_persistent_fault_is_a_recorded_failure_of_the_run(fault: str) -> None:
    with FaultServer(always=fault, hang_s=5) as server:
        collector = CallCollector()
        started = time.monotonic()
        result = run_and_close(fault_recipe(server, retries=1), collector)
        elapsed = time.monotonic() - started
    assert result.status == "failed"
    assert [c.attempt for c in collector.calls] == [1, 2]  # the run's retry, both recorded
    assert all(c.error and c.response is None for c in collector.calls)
    assert server.generate_requests == 2  # 2 gateway attempts, one request each
    assert elapsed < 30
