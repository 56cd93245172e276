"""Fault injection: 500s, timeouts, dropped connections, malformed JSON and truncated bodies
are retried, then surface as a recorded failure (a ``ttc_model_called`` with ``error``) —
never a hang. A 4xx is the request's fault: not retried."""

from __future__ import annotations

import time

import pytest
from fault_server import FAULTS, FaultServer
from recipe_helpers import CallCollector, host_with

from ttc.pipeline import Pipeline
from ttc.plugins.runtimes.local.model_files import prepare_model_folder
from ttc.plugins.runtimes.sglang import SGLangOptions, SGLangRuntime
from ttc.runtime import GenerateRequest, RequestError, RuntimeCallError, SamplingParams

RETRYABLE = [f for f in FAULTS if f != "http_400"]


def runtime_for(server: FaultServer, **options: object) -> SGLangRuntime:
    defaults: dict[str, object] = {"url": server.url, "timeout_s": 1.0, "retries": 2,
                                   "retry_backoff_s": 0.01}
    return SGLangRuntime.create("", SGLangOptions(**{**defaults, **options}))


REQUEST = GenerateRequest(prompt="Q: 6*7?", n=2, params=SamplingParams(max_tokens=2, seed=1))


@pytest.mark.parametrize("fault", RETRYABLE)
async def test_one_fault_is_retried_inside_the_runtime(fault: str) -> None:
    with FaultServer([fault], hang_s=5) as server:
        completions = await runtime_for(server).generate(REQUEST)
    assert [c.text for c in completions] == [" 42", " 42"]
    assert completions[0].logprobs == (-0.5, -0.25) and completions[0].cached_tokens == 4
    assert server.generate_requests == 2


@pytest.mark.parametrize("fault", RETRYABLE)
async def test_persistent_fault_raises_retryable_in_bounded_time(fault: str) -> None:
    with FaultServer(always=fault, hang_s=5) as server:
        started = time.monotonic()
        with pytest.raises(RuntimeCallError) as caught:
            await runtime_for(server).generate(REQUEST)
        elapsed = time.monotonic() - started
    assert caught.value.retryable and not isinstance(caught.value, RequestError)
    assert server.generate_requests == 3  # the first attempt and two retries
    assert elapsed < 3 * 1.0 + 2  # three attempts of at most the 1 s timeout, short backoff


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


@pytest.mark.parametrize("fault", ["http_500", "drop", "truncated", "timeout"])
def test_persistent_fault_is_a_recorded_failure_of_the_run(fault: str) -> None:
    tokenizer = str(prepare_model_folder("").path)
    with FaultServer(always=fault, hang_s=5) as server:
        recipe = f"""
name: faults
models:
  m: {{runtime: sglang, options: {{url: '{server.url}', timeout_s: 1.0, retries: 1,
        retry_backoff_s: 0.01, tokenizer: '{tokenizer}'}}}}
limits: {{retries: 1, retry_backoff_s: 0.01, call_timeout_s: 10}}
stages:
  - {{use: sample, n: 2, max_tokens: 4}}
select: {{use: first}}
"""
        collector = CallCollector()
        started = time.monotonic()
        result = Pipeline.from_text(recipe, host=host_with(collector)).run("What is 6*7?")
        elapsed = time.monotonic() - started
    assert result.status == "failed"
    assert [c.attempt for c in collector.calls] == [1, 2]  # the run's retry, both recorded
    assert all(c.error and c.response is None for c in collector.calls)
    assert server.generate_requests == 4  # 2 gateway attempts × 2 runtime attempts
    assert elapsed < 30
