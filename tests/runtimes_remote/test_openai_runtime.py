"""The openai runtime against ``ttc serve``'s ``/v1`` over the real embedded model."""

from __future__ import annotations

import logging

import pytest

from ttc.plugins.runtimes.local import LocalRuntime
from ttc.plugins.runtimes.openai import OpenAIOptions, OpenAIRuntime, chat_prompt
from ttc.runtime import GenerateRequest, RequestError, SamplingParams, ScoreRequest

pytestmark = pytest.mark.model

QUESTION = [{"role": "user", "content": "What is 2+2?"}]


def sampled(prompt: str, n: int = 2, **kwargs: object) -> GenerateRequest:
    return GenerateRequest(prompt=prompt, n=n, params=SamplingParams(
        max_tokens=6, temperature=1.0, seed=7), **kwargs)  # type: ignore[arg-type]


async def test_chat_mode_samples_logprobs_seed(openai_chat: OpenAIRuntime,
                                               local_runtime: LocalRuntime) -> None:
    prompt = await openai_chat.render(QUESTION)
    assert chat_prompt.decode(prompt) == QUESTION
    out = await openai_chat.generate(sampled(prompt, top_logprobs=2))
    again = await openai_chat.generate(sampled(prompt, top_logprobs=2))
    assert [c.text for c in out] == [c.text for c in again]  # seeded
    # The server renders the same template, so the samples equal the in-process ones.
    local = await local_runtime.generate(sampled(await local_runtime.render(QUESTION)))
    assert [c.token_ids for c in out] == [c.token_ids for c in local]
    for c, loc in zip(out, local, strict=True):
        assert c.logprobs == pytest.approx(loc.logprobs, abs=1e-3)
        assert c.top_logprobs is not None and all(len(p) == 2 for p in c.top_logprobs)
        assert c.prompt_tokens > 0 and c.kl_uniform is None


async def test_completions_mode(openai_completions: OpenAIRuntime,
                                local_runtime: LocalRuntime) -> None:
    prompt = await openai_completions.render(QUESTION)
    assert prompt == await local_runtime.render(QUESTION)  # rendered here: a literal prefix
    out = await openai_completions.generate(sampled(prompt, n=3, top_logprobs=2))
    local = await local_runtime.generate(sampled(prompt, n=3))
    assert [c.text for c in out] == [c.text for c in local]
    assert [c.token_ids for c in out] == [c.token_ids for c in local]
    assert all(c.top_logprobs and len(c.top_logprobs[0]) == 2 for c in out)
    (greedy,) = await openai_completions.generate(GenerateRequest(
        prompt="Count: 1, 2, 3,", params=SamplingParams(max_tokens=8, temperature=0,
                                                        stop=(" 5",))))
    assert greedy.finish_reason == "stop" and greedy.matched_stop == " 5"


async def test_unsupported_requests_are_request_errors(openai_chat: OpenAIRuntime) -> None:
    with pytest.raises(RequestError, match="scoring"):
        await openai_chat.score([ScoreRequest(prompt="a", continuation="b")])
    with pytest.raises(RequestError, match="400"):
        await openai_chat.generate(GenerateRequest(prompt="Hi", n=1000))


async def test_key_never_logged_or_dumped(openai_chat: OpenAIRuntime,
                                          caplog: pytest.LogCaptureFixture) -> None:
    secret = "sk-test-secret-value"
    caplog.set_level(logging.DEBUG)
    await openai_chat.generate(GenerateRequest(prompt="Hi", params=SamplingParams(max_tokens=1)))
    assert secret not in caplog.text
    assert secret not in repr(openai_chat.options)
    assert secret not in openai_chat.options.model_dump_json()


def test_key_and_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
    runtime = OpenAIRuntime.create("m", OpenAIOptions())
    assert runtime.base_url == "http://127.0.0.1:1/v1"
    with pytest.raises(RequestError, match="model name"):
        OpenAIRuntime.create("", OpenAIOptions())
