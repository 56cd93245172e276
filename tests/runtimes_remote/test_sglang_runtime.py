"""The sglang runtime against ``ttc serve`` over the real embedded model (real HTTP)."""

from __future__ import annotations

import math

import pytest

from ttc.plugins.runtimes.local import LocalRuntime
from ttc.plugins.runtimes.sglang import SGLangOptions, SGLangRuntime
from ttc.plugins.runtimes.sglang.native_protocol import sample_seed
from ttc.plugins.server.background import BackgroundServer
from ttc.runtime import (
    Capability,
    GenerateRequest,
    RequestError,
    SamplingParams,
    ScoreRequest,
)

pytestmark = pytest.mark.model

QUESTION = [{"role": "user", "content": "What is 2+2?"}]


def sampled(prompt: str, n: int = 3, seed: int | None = 11, **kwargs: object) -> GenerateRequest:
    return GenerateRequest(prompt=prompt, n=n, params=SamplingParams(
        max_tokens=6, temperature=1.0, seed=seed), **kwargs)  # type: ignore[arg-type]


async def test_server_description(sglang: SGLangRuntime, local_runtime: LocalRuntime) -> None:
    assert sglang.vocab_size == local_runtime.vocab_size
    assert sglang.samples_layout == "n"  # ttc serve seeds samples itself
    assert Capability.TOP_LOGPROBS in sglang.capabilities
    assert Capability.FULL_DISTRIBUTION not in sglang.capabilities  # top-k only, never exact
    assert (Capability.CONSTRAINED in sglang.capabilities) == (
        Capability.CONSTRAINED in local_runtime.capabilities)  # as the engine behind it
    assert await sglang.render(QUESTION) == await local_runtime.render(QUESTION)


async def test_seeded_samples_equal_in_process_local(sglang: SGLangRuntime,
                                                     local_runtime: LocalRuntime) -> None:
    prompt = await sglang.render(QUESTION)
    request = sampled(prompt, top_logprobs=3, token_ids_logprob=(28, 0))
    remote = await sglang.generate(request)
    again = await sglang.generate(request)
    local = await local_runtime.generate(request)
    assert [c.token_ids for c in remote] == [c.token_ids for c in again]
    assert [c.token_ids for c in remote] == [c.token_ids for c in local]
    assert [c.text for c in remote] == [c.text for c in local]
    assert len({c.token_ids for c in remote}) > 1  # three draws, not one repeated
    for r, loc in zip(remote, local, strict=True):
        assert r.logprobs == pytest.approx(loc.logprobs, abs=1e-3)
        assert r.kl_uniform is None and r.entropy is None  # never approximated
        assert r.top_logprobs is not None and len(r.top_logprobs) == len(r.token_ids)
        assert all(len(position) == 3 for position in r.top_logprobs)
        top_ids = [[t for t, _ in p] for p in r.top_logprobs]
        assert top_ids == [[t for t, _ in p] for p in loc.top_logprobs or ()]
        assert r.token_ids_logprobs is not None
        assert [[t for t, _ in p] for p in r.token_ids_logprobs] == [[28, 0]] * len(r.token_ids)
        assert r.prompt_tokens == len(await local_runtime.tokenize(prompt))
        assert r.finish_reason in ("stop", "length")


async def test_batch_layout_seeds_each_text(sglang_batch: SGLangRuntime,
                                            local_runtime: LocalRuntime) -> None:
    """Repeated texts carry per-sample seeds derived from (seed, i), reproducibly."""
    prompt = await sglang_batch.render(QUESTION)
    first = await sglang_batch.generate(sampled(prompt, seed=5))
    again = await sglang_batch.generate(sampled(prompt, seed=5))
    assert [c.token_ids for c in first] == [c.token_ids for c in again]
    assert len({c.token_ids for c in first}) > 1
    # Text i is one sample seeded sample_seed(5, i): the same as a local call with that seed.
    (second,) = await local_runtime.generate(sampled(prompt, n=1, seed=sample_seed(5, 1)))
    assert first[1].token_ids == second.token_ids


async def test_greedy_stop_string(sglang: SGLangRuntime, local_runtime: LocalRuntime) -> None:
    prompt = "Count: 1, 2, 3,"
    greedy = GenerateRequest(prompt=prompt, params=SamplingParams(max_tokens=12, temperature=0))
    (plain,) = await local_runtime.generate(greedy)
    stop = plain.text[3:5]
    assert stop
    (out,) = await sglang.generate(GenerateRequest(prompt=prompt, params=SamplingParams(
        max_tokens=12, temperature=0, stop=(stop,))))
    assert out.finish_reason == "stop" and out.matched_stop == stop
    assert out.text == plain.text[: plain.text.index(stop)]


async def test_score_matches_local(sglang: SGLangRuntime, local_runtime: LocalRuntime) -> None:
    prompt = await sglang.render(QUESTION)
    requests = [
        ScoreRequest(prompt=prompt, continuation="The answer is 4.", top_logprobs=2,
                     token_ids_logprob=(28, 0)),
        ScoreRequest(prompt=prompt, continuation="It is five"),
    ]
    remote = await sglang.score(requests)
    local = await local_runtime.score(requests)
    for r, loc, request in zip(remote, local, requests, strict=True):
        assert r.token_ids == loc.token_ids
        assert r.logprobs == pytest.approx(loc.logprobs, abs=1e-3)
        assert all(math.isfinite(v) and v <= 0 for v in r.logprobs)
        assert r.kl_uniform is None
        if request.top_logprobs:
            assert [[t for t, _ in p] for p in r.top_logprobs or ()] == [
                [t for t, _ in p] for p in loc.top_logprobs or ()]
            assert [t for t, _ in r.next_position.top_logprobs] == [
                t for t, _ in loc.next_position.top_logprobs]
            assert [lp for _, lp in r.next_position.token_ids_logprobs] == pytest.approx(
                [lp for _, lp in loc.next_position.token_ids_logprobs], abs=1e-3)
        else:
            assert r.top_logprobs is None and r.next_position.top_logprobs == ()
    # The scored continuation's logprobs equal its generation logprobs (same ids, same model).
    (greedy,) = await sglang.generate(GenerateRequest(
        prompt=prompt, params=SamplingParams(max_tokens=5, temperature=0)))
    (rescored,) = await sglang.score([ScoreRequest(prompt=prompt, continuation=greedy.text)])
    assert rescored.token_ids == greedy.token_ids
    assert rescored.logprobs == pytest.approx(greedy.logprobs, abs=1e-3)


async def test_cache_telemetry_on_shared_prefix(sglang: SGLangRuntime) -> None:
    shared = "You are a careful grader. Read the question and the answer below. " * 3
    first = await sglang.generate(GenerateRequest(
        prompt=shared + "Answer A: 4.", params=SamplingParams(max_tokens=2, temperature=0)))
    second = await sglang.generate(GenerateRequest(
        prompt=shared + "Answer B: 5.", params=SamplingParams(max_tokens=2, temperature=0)))
    assert first[0].prompt_tokens > 0
    assert second[0].cached_tokens > 0.5 * second[0].prompt_tokens


async def test_request_errors_are_clear(sglang: SGLangRuntime) -> None:
    with pytest.raises(RequestError, match=r"400.*regex"):
        await sglang.generate(GenerateRequest(prompt="Hi", regex="(unclosed"))
    with pytest.raises(RequestError, match="400"):
        await sglang.generate(GenerateRequest(prompt="Hi", n=1000))
    with pytest.raises(RequestError, match="empty"):
        await sglang.score([ScoreRequest(prompt="", continuation="x")])


def test_runtime_serves_several_event_loops(sglang: SGLangRuntime) -> None:
    """Each loop gets its own pooled client; a closed loop's client is dropped."""
    import asyncio

    request = GenerateRequest(prompt="Hi", params=SamplingParams(max_tokens=1, temperature=0))
    first = asyncio.run(sglang.generate(request))
    second = asyncio.run(sglang.generate(request))
    assert first[0].token_ids == second[0].token_ids


def test_unreachable_server_is_a_clear_error() -> None:
    from ttc.runtime import RuntimeCallError

    with pytest.raises(RuntimeCallError, match=r"no SGLang server answers at http://127\.0\.0\.1:9"):
        SGLangRuntime.create("", SGLangOptions(url="http://127.0.0.1:9", connect_timeout_s=1))


def test_api_key_is_secret(served: BackgroundServer) -> None:
    runtime = SGLangRuntime.create("", SGLangOptions(url=served.url, api_key="sk-abcdef123456"))
    assert "sk-abcdef123456" not in repr(runtime.options)
    assert "sk-abcdef123456" not in runtime.options.model_dump_json()
