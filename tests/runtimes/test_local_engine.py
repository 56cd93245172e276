"""The local runtime on the real model: exactness, reproducibility, batching, caching."""

from __future__ import annotations

import asyncio
import math
import time

import pytest
import torch

from ttc.plugins.runtimes.local import LocalRuntime
from ttc.runtime import (
    Capability,
    GenerateRequest,
    RequestError,
    RuntimeCallError,
    SamplingParams,
    ScoreRequest,
)

pytestmark = pytest.mark.model

GREEDY = SamplingParams(max_tokens=8, temperature=0)


def reference_logits(runtime: LocalRuntime, ids: list[int]) -> torch.Tensor:
    """A plain forward pass over the whole sequence: one row, no prefix cache, no batch, no
    decode loop (``test_local_decoder.py`` holds the decoder itself to transformers)."""
    decoder = runtime.engine.decoder
    with torch.inference_mode():
        return decoder.forward(torch.tensor([ids]), decoder.new_batch(rows=1), logits_from=0)[0]


async def test_registers_shares_engine_and_reports_capabilities(local_runtime) -> None:
    again = LocalRuntime.create("smollm2-135m", LocalRuntime.Options(max_n=4))
    assert again.engine is local_runtime.engine
    assert Capability.FULL_DISTRIBUTION in local_runtime.capabilities
    assert LocalRuntime.static_capabilities(LocalRuntime.Options()) == local_runtime.capabilities
    assert local_runtime.vocab_size == 49152 and local_runtime.context_length == 8192
    assert local_runtime.eos_token_id == 2
    ids = await local_runtime.tokenize("Hello there")
    assert await local_runtime.detokenize(ids) == "Hello there"


def test_unknown_model_fails_at_create(tmp_path) -> None:
    with pytest.raises(RuntimeCallError, match="unknown model"):
        LocalRuntime.create(str(tmp_path / "missing"), LocalRuntime.Options())
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"not a gguf file")
    with pytest.raises(RuntimeCallError, match="cannot read GGUF"):
        LocalRuntime.create(str(broken), LocalRuntime.Options())


async def test_greedy_follows_the_argmax_of_plain_forward_passes(local_runtime, chat_prompt
                                                                   ) -> None:
    [completion] = await local_runtime.generate(
        GenerateRequest(chat_prompt, GREEDY, top_logprobs=3, token_ids_logprob=(2, 17)))
    prompt_ids = await local_runtime.tokenize(chat_prompt)
    ids = prompt_ids + list(completion.token_ids)
    logits = reference_logits(local_runtime, ids)[len(prompt_ids) - 1: -1]
    log_probs = logits.log_softmax(-1)
    assert list(completion.token_ids) == logits.argmax(-1).tolist()
    chosen = log_probs[torch.arange(len(ids) - len(prompt_ids)), list(completion.token_ids)]
    assert torch.allclose(torch.tensor(completion.logprobs), chosen, atol=1e-4)
    entropy = -(log_probs.exp() * log_probs).sum(-1)
    assert torch.allclose(torch.tensor(completion.entropy), entropy, atol=1e-4)
    kl = -log_probs.mean(-1) - math.log(logits.shape[-1])
    assert torch.allclose(torch.tensor(completion.kl_uniform), kl, atol=1e-4)
    assert completion.top_logprobs is not None and completion.token_ids_logprobs is not None
    for position, (top, fixed) in enumerate(
            zip(completion.top_logprobs, completion.token_ids_logprobs, strict=True)):
        assert [t for t, _ in top] == log_probs[position].topk(3).indices.tolist()
        assert top[0][1] == pytest.approx(completion.logprobs[position], abs=1e-6)
        assert [t for t, _ in fixed] == [2, 17]
        assert fixed[1][1] == pytest.approx(log_probs[position, 17].item(), abs=1e-4)


async def test_seeded_samples_are_reproducible_and_batch_independent(local_runtime,
                                                                     chat_prompt) -> None:
    params = SamplingParams(max_tokens=6, temperature=1.0, top_p=0.95, seed=123)
    first = await local_runtime.generate(GenerateRequest(chat_prompt, params, n=3))
    again = await local_runtime.generate(GenerateRequest(chat_prompt, params, n=3))
    assert [c.token_ids for c in first] == [c.token_ids for c in again]
    assert len({c.token_ids for c in first}) > 1  # samples differ from each other
    alone = await local_runtime.generate(GenerateRequest(chat_prompt, params, n=1))
    assert alone[0].token_ids == first[0].token_ids  # sample 0 whatever n is
    other = GenerateRequest("Write a poem about the sea.",
                            SamplingParams(max_tokens=10, temperature=0.7, seed=5), n=4)

    async def late_start() -> list:
        await asyncio.sleep(0.3)  # joins a batch that is already decoding
        return await local_runtime.generate(GenerateRequest(chat_prompt, params, n=3))

    _, crowded = await asyncio.gather(local_runtime.generate(other), late_start())
    assert [c.token_ids for c in crowded] == [c.token_ids for c in first]
    for a, b in zip(crowded, first, strict=True):
        assert max(abs(x - y) for x, y in zip(a.logprobs, b.logprobs, strict=True)) < 1e-4


async def test_score_equals_generation_logprobs(local_runtime, chat_prompt) -> None:
    [completion] = await local_runtime.generate(GenerateRequest(
        chat_prompt, SamplingParams(max_tokens=8, temperature=0.8, seed=9)))
    [scored] = await local_runtime.score([ScoreRequest(chat_prompt, completion.text,
                                                       top_logprobs=2)])
    assert scored.token_ids == completion.token_ids[: len(scored.token_ids)]
    count = len(scored.token_ids)
    assert count >= 4
    assert max(abs(a - b) for a, b in zip(scored.logprobs, completion.logprobs[:count],
                                          strict=True)) < 1e-4
    assert scored.entropy == pytest.approx(completion.entropy[:count], abs=1e-4)
    assert scored.kl_uniform == pytest.approx(completion.kl_uniform[:count], abs=1e-4)
    ids = await local_runtime.tokenize(chat_prompt) + list(scored.token_ids)
    after = reference_logits(local_runtime, ids)[-1].log_softmax(-1)
    assert scored.next_position.top_logprobs[0][0] == after.argmax().item()
    assert scored.next_position.top_logprobs[0][1] == pytest.approx(after.max().item(), abs=1e-4)
    assert scored.next_position.kl_uniform == pytest.approx(
        (-after.mean() - math.log(after.shape[-1])).item(), abs=1e-4)


async def test_prefix_cache_hit_equals_miss(local_runtime, chat_prompt) -> None:
    await local_runtime.flush_cache()
    request = GenerateRequest(chat_prompt, SamplingParams(max_tokens=6, temperature=0.9, seed=4),
                              n=2)
    miss = await local_runtime.generate(request)
    hit = await local_runtime.generate(request)
    prompt_tokens = miss[0].prompt_tokens
    assert miss[0].cached_tokens == 0 and miss[1].cached_tokens == prompt_tokens
    assert hit[0].cached_tokens == prompt_tokens - 1  # the last token is always recomputed
    assert [c.text for c in hit] == [c.text for c in miss]
    for a, b in zip(hit, miss, strict=True):
        assert max(abs(x - y) for x, y in zip(a.logprobs, b.logprobs, strict=True)) < 1e-4
    shared = chat_prompt + "Critique: the answer"
    [critic] = await local_runtime.generate(GenerateRequest(shared, GREEDY))
    assert critic.cached_tokens >= prompt_tokens - 1
    await local_runtime.flush_cache()
    [cold] = await local_runtime.generate(GenerateRequest(shared, GREEDY))
    assert cold.cached_tokens == 0 and cold.token_ids == critic.token_ids


async def test_stop_string_max_tokens_and_eos(local_runtime, chat_prompt) -> None:
    [free] = await local_runtime.generate(GenerateRequest(
        chat_prompt, SamplingParams(max_tokens=40, temperature=0)))
    assert free.finish_reason == "stop" and free.matched_stop is None
    assert free.token_ids[-1] == 2 and "<|im_end|>" not in free.text  # EOS, not in the text
    stop = free.text.split()[2]
    [stopped] = await local_runtime.generate(GenerateRequest(
        chat_prompt, SamplingParams(max_tokens=40, temperature=0, stop=(stop, "zzzz"))))
    assert stopped.finish_reason == "stop" and stopped.matched_stop == stop
    assert stopped.text == free.text[: free.text.index(stop)]
    assert len(stopped.token_ids) < len(free.token_ids)
    [short] = await local_runtime.generate(GenerateRequest(
        chat_prompt, SamplingParams(max_tokens=3, temperature=0)))
    assert short.finish_reason == "length" and short.token_ids == free.token_ids[:3]


@pytest.mark.parametrize(("request_", "message"), [
    (GenerateRequest("Hi", n=0), "n must be"),
    (GenerateRequest("Hi", n=300), "n must be"),
    (GenerateRequest("Hi", SamplingParams(temperature=-1)), "temperature"),
    (GenerateRequest("Hi", SamplingParams(top_p=0)), "top_p"),
    (GenerateRequest("Hi", SamplingParams(top_p=1.5)), "top_p"),
    (GenerateRequest("Hi", SamplingParams(top_k=-2)), "top_k"),
    (GenerateRequest("Hi", SamplingParams(min_p=2)), "min_p"),
    (GenerateRequest("Hi", SamplingParams(max_tokens=0)), "max_tokens"),
    (GenerateRequest(""), "empty"),
    (GenerateRequest("Hi", top_logprobs=1000), "top_logprobs"),
    (GenerateRequest("Hi", token_ids_logprob=(10**6,)), "outside the vocabulary"),
    (GenerateRequest("Hi", regex="(unclosed"), "regex"),
    (GenerateRequest("word " * 9000), "context window"),
])
async def test_bad_requests_raise_request_error(local_runtime, request_, message) -> None:
    with pytest.raises(RequestError, match=message):
        await local_runtime.generate(request_)


async def test_bad_score_requests_raise_request_error(local_runtime) -> None:
    with pytest.raises(RequestError, match="empty"):
        await local_runtime.score([ScoreRequest("", "x")])


async def test_cancelling_the_caller_aborts_its_rows(local_runtime, chat_prompt) -> None:
    engine = local_runtime.engine
    task = asyncio.create_task(local_runtime.generate(GenerateRequest(
        chat_prompt, SamplingParams(max_tokens=2000, temperature=1.0, seed=1), n=4)))
    deadline = time.monotonic() + 60
    while engine.active_rows < 4 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert engine.active_rows == 4
    steps = engine.steps
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    deadline = time.monotonic() + 30
    while engine.active_rows and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert engine.active_rows == 0
    assert engine.steps - steps < 200  # stopped long before max_tokens


async def test_many_seeded_samples_survive_batch_and_cache_changes(local_runtime,
                                                                   chat_prompt) -> None:
    """Logits differ by ~1e-5 between batch shapes and between cache hits and misses; the
    sampler must not turn that into other tokens (an inverse-CDF sampler did, often)."""
    shapes = [(1.0, 1.0), (0.8, 0.95), (1.3, 1.0), (1.0, 0.9)] * 2
    params = [SamplingParams(max_tokens=24, temperature=t, seed=s, top_p=p)
              for s, (t, p) in enumerate(shapes)]
    await local_runtime.flush_cache()
    cold = [await local_runtime.generate(GenerateRequest(chat_prompt, p, n=4)) for p in params]
    crowded = await asyncio.gather(*(
        local_runtime.generate(GenerateRequest(chat_prompt, p, n=4)) for p in params))
    for alone, together in zip(cold, crowded, strict=True):
        assert [c.token_ids for c in alone] == [c.token_ids for c in together]
        assert all(c.cached_tokens > 0 for c in together)  # the second time hits the cache


async def test_a_continuation_reuses_the_generated_tokens_kv(local_runtime, chat_prompt
                                                             ) -> None:
    """Finished sequences enter the prefix cache, so continuing a completion (wait
    continuation, chunked pruning, multi-turn) prefills only what is new; a hit still
    samples what a cold start samples."""
    await local_runtime.flush_cache()
    [first] = await local_runtime.generate(GenerateRequest(
        chat_prompt, SamplingParams(max_tokens=12, temperature=0.7, seed=2)))
    follow = chat_prompt + first.text + " Wait,"
    params = SamplingParams(max_tokens=6, temperature=0.7, seed=3)
    [warm] = await local_runtime.generate(GenerateRequest(follow, params))
    # Re-tokenising the joined text may split the boundary differently by a token or two.
    assert warm.cached_tokens >= first.prompt_tokens + len(first.token_ids) - 3
    await local_runtime.flush_cache()
    [cold] = await local_runtime.generate(GenerateRequest(follow, params))
    assert cold.cached_tokens == 0 and cold.token_ids == warm.token_ids
    assert max(abs(a - b) for a, b in zip(cold.logprobs, warm.logprobs, strict=True)) < 1e-4


def test_threads_default_to_the_environment_then_every_core(monkeypatch):
    import os

    from ttc.plugins.runtimes.local.engine import default_threads

    monkeypatch.delenv("TTC_LOCAL_THREADS", raising=False)
    assert default_threads() == (os.cpu_count() or 1)
    monkeypatch.setenv("TTC_LOCAL_THREADS", "1")
    assert default_threads() == 1
    monkeypatch.setenv("TTC_LOCAL_THREADS", "many")
    with pytest.raises(ValueError, match="TTC_LOCAL_THREADS='many'"):
        default_threads()
