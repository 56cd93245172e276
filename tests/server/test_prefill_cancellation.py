"""Long prompts are prefilled in chunks on the real model: a client that gives up stops its
prefill, and other work (a flush, a small request) does not wait for a long prefill."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from ttc.plugins.server.background import BackgroundServer
from ttc.runtime import GenerateRequest, SamplingParams, ScoreRequest

pytestmark = pytest.mark.model

SMALL = {"text": "Count from one to fifty: one, two, three,",
         "sampling_params": {"max_new_tokens": 24, "temperature": 0}}


def long_prompt(runtime, tokens: int) -> str:
    """A prompt of about ``tokens`` tokens that no other test uses."""
    text = " ".join(f"item{i % 89} costs {i % 7} coins." for i in range(tokens // 8))
    count = len(asyncio.run(runtime.tokenize(text)))
    assert tokens * 0.8 < count < min(tokens * 1.2, runtime.context_length - 64)
    return text


@pytest.fixture
def chunk_of(local_runtime) -> Iterator[callable]:
    """Set the shared engine's chunk size for one test."""
    engine = local_runtime.engine
    before = engine.prefill_chunk

    def set_chunk(tokens: int) -> None:
        engine.prefill_chunk = tokens

    yield set_chunk
    engine.prefill_chunk = before


def wait_until(condition, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_prompt_prefilled_in_chunks_equals_one_prefilled_whole(local_runtime,
                                                                 chunk_of) -> None:
    prompt = long_prompt(local_runtime, 700)
    cut = len(prompt) // 3
    results = {}
    for chunk in (4096, 64):
        chunk_of(chunk)
        asyncio.run(local_runtime.flush_cache())
        [generated] = asyncio.run(local_runtime.generate(GenerateRequest(
            prompt, SamplingParams(max_tokens=6, temperature=0), top_logprobs=3)))
        asyncio.run(local_runtime.flush_cache())
        [scored] = asyncio.run(local_runtime.score([ScoreRequest(
            prompt[:cut], prompt[cut:], top_logprobs=2, token_ids_logprob=(5, 7))]))
        results[chunk] = generated, scored
    (whole, whole_score), (chunked, chunked_score) = results[4096], results[64]
    assert chunked.token_ids == whole.token_ids
    assert max(abs(a - b) for a, b in zip(chunked.logprobs, whole.logprobs,
                                          strict=True)) < 1e-4
    assert chunked_score.token_ids == whole_score.token_ids
    assert len(chunked_score.logprobs) > 400
    assert max(abs(a - b) for a, b in zip(chunked_score.logprobs, whole_score.logprobs,
                                          strict=True)) < 1e-4
    assert [[t for t, _ in p] for p in chunked_score.top_logprobs[:50]] == [
        [t for t, _ in p] for p in whole_score.top_logprobs[:50]]
    assert chunked_score.next_position.entropy == pytest.approx(
        whole_score.next_position.entropy, abs=1e-4)


@pytest.mark.slow
def test_a_client_that_gives_up_stops_its_prefill(local_server: BackgroundServer,
                                                  local_runtime) -> None:
    engine = local_runtime.engine
    text = long_prompt(local_runtime, 6000)
    asyncio.run(local_runtime.flush_cache())
    chunks, cancelled = engine.prefill_chunks, engine.prefills_cancelled
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(local_server.url + "/generate", timeout=2.0, json={
            "text": text, "sampling_params": {"max_new_tokens": 4}})
    wait_until(lambda: engine.prefills_cancelled > cancelled)
    computed = engine.prefill_chunks - chunks
    assert 0 < computed < 6000 * 0.8 / engine.prefill_chunk  # stopped well before the end
    time.sleep(1.0)
    assert engine.prefill_chunks - chunks == computed  # nothing after the cancellation
    assert engine.pending_prefills == 0 and engine.active_rows == 0


@pytest.mark.slow
def test_a_flush_and_a_small_request_do_not_wait_for_a_long_prefill(
        local_server: BackgroundServer, local_runtime) -> None:
    engine = local_runtime.engine
    url = local_server.url
    with httpx.Client(base_url=url, timeout=300) as http:
        http.post("/generate", json=SMALL)  # warm
        expected = http.post("/generate", json=SMALL).json()
        # Long enough that the small request (24 decode steps, each turn repaying the last
        # chunk's time) ends with chunks to spare, whatever the engine's thread count.
        text = long_prompt(local_runtime, 6000)
        chunks = engine.prefill_chunks
        long_answer: list[httpx.Response] = []
        worker = threading.Thread(target=lambda: long_answer.append(httpx.post(
            url + "/generate", timeout=600,
            json={"text": text, "sampling_params": {"max_new_tokens": 2}})))
        worker.start()
        wait_until(lambda: engine.prefill_chunks > chunks)  # the long prefill is under way
        assert http.post("/flush_cache").status_code == 200
        flushed_during_prefill = worker.is_alive()
        beside = http.post("/generate", json=SMALL).json()
        small_during_prefill = worker.is_alive() and engine.pending_prefills > 0
        worker.join()
    assert flushed_during_prefill and small_during_prefill
    assert long_answer[0].status_code == 200
    assert beside["output_ids"] == expected["output_ids"]
