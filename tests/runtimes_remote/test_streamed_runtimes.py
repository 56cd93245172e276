"""The sglang and openai runtimes with ``stream: true`` against ``ttc serve`` over the real
model: the same samples as without streaming, each with its time to first token, which a
recorded run keeps."""

from __future__ import annotations

import pytest

from ttc import Pipeline
from ttc.plugins.runtimes.local import LocalRuntime
from ttc.plugins.runtimes.openai import OpenAIOptions, OpenAIRuntime
from ttc.plugins.runtimes.sglang import SGLangOptions, SGLangRuntime
from ttc.plugins.server.background import BackgroundServer
from ttc.runtime import GenerateRequest, SamplingParams

pytestmark = pytest.mark.model

QUESTION = [{"role": "user", "content": "What is 2+2?"}]


def request(prompt: str, **kwargs: object) -> GenerateRequest:
    return GenerateRequest(prompt=prompt, n=2, params=SamplingParams(
        max_tokens=6, temperature=1.0, seed=5), **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(("samples", "one_text"), [("n", False), ("batch", False),
                                                  ("batch", True)])
async def test_sglang_runtime_streams_the_same_samples_with_first_token_times(
        served: BackgroundServer, sglang: SGLangRuntime, samples: str, one_text: bool) -> None:
    """``one_text``: a request per text, as through sglang-router."""
    streamed = SGLangRuntime.create("", SGLangOptions(
        url=served.url, samples=samples, stream=True, one_text_per_request=one_text))
    plain = SGLangRuntime.create("", SGLangOptions(url=served.url, samples=samples,
                                                   one_text_per_request=one_text))
    prompt = await sglang.render(QUESTION)
    try:
        got = await streamed.generate(request(prompt, top_logprobs=2))
        want = await plain.generate(request(prompt, top_logprobs=2))
    finally:
        await streamed.aclose()
        await plain.aclose()
    assert [c.token_ids for c in got] == [c.token_ids for c in want]
    assert [c.text for c in got] == [c.text for c in want]
    assert [c.finish_reason for c in got] == [c.finish_reason for c in want]
    for streamed_sample, plain_sample in zip(got, want, strict=True):
        assert streamed_sample.logprobs == pytest.approx(plain_sample.logprobs, abs=1e-4)
    assert all(c.first_token_latency is not None and c.first_token_latency > 0 for c in got)
    assert all(c.first_token_latency is None for c in want)


@pytest.mark.parametrize("mode", ["chat", "completions"])
async def test_openai_runtime_streams_the_same_samples_with_first_token_times(
        served: BackgroundServer, local_runtime: LocalRuntime, mode: str) -> None:
    def runtime(stream: bool) -> OpenAIRuntime:
        return OpenAIRuntime.create("smollm2-135m", OpenAIOptions(
            base_url=served.url + "/v1", mode=mode, tokenizer=local_runtime.tokenizer_path,
            stream=stream))

    streamed, plain = runtime(True), runtime(False)
    prompt = await streamed.render(QUESTION)
    try:
        got = await streamed.generate(request(prompt, top_logprobs=2))
        want = await plain.generate(request(prompt, top_logprobs=2))
    finally:
        await streamed.aclose()
        await plain.aclose()
    assert [c.text for c in got] == [c.text for c in want]
    assert [c.token_ids for c in got] == [c.token_ids for c in want]
    assert [c.top_logprobs for c in got] == [c.top_logprobs for c in want]
    assert [(c.prompt_tokens, c.cached_tokens > 0) for c in got] == [
        (c.prompt_tokens, c.cached_tokens > 0) for c in want]
    assert all(c.first_token_latency is not None and c.first_token_latency > 0 for c in got)


def test_a_recorded_run_keeps_the_first_token_latency(served: BackgroundServer,
                                                      tmp_path) -> None:
    from ttc.storage import RunStore

    recipe = {
        "name": "streamed",
        "models": {"remote": {"runtime": "sglang",
                              "options": {"url": served.url, "stream": True}}},
        "stages": [{"use": "sample", "n": 2, "max_tokens": 4, "temperature": 0.7}],
        "select": {"use": "first"},
    }
    store = RunStore.open(f"sqlite:///{tmp_path / 'runs.db'}")
    result = Pipeline.from_dict(recipe, store=store).run("What is 2+2?", seed=1)
    calls = store.model_calls([result.run_id])
    assert len(calls) == 1
    firsts = [c["first_token_latency"] for c in calls[0].response]
    assert len(firsts) == 2 and all(f is not None and f > 0 for f in firsts)
