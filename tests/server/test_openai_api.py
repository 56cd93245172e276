"""The OpenAI-compatible /v1 API over the scripted runtime, with the official client."""

from __future__ import annotations

import httpx
import openai
import pytest

from ttc.plugins.runtimes.scripted import logprob_of, token_id
from ttc.plugins.server.background import BackgroundServer


@pytest.fixture
def oai(scripted_server: BackgroundServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=scripted_server.url + "/v1", api_key="unused", max_retries=0)


def test_models_lists_the_served_model(oai: openai.OpenAI) -> None:
    assert [m.id for m in oai.models.list().data] == ["scripted-model"]


def test_chat_completion_with_n_and_logprobs(oai: openai.OpenAI) -> None:
    reply = oai.chat.completions.create(
        model="scripted-model",
        messages=[{"role": "user", "content": "hi"}],
        n=2,
        logprobs=True,
        top_logprobs=2,
        seed=3,
    )
    assert [c.message.content for c in reply.choices] == ["the answer is 42", "I think 7"]
    assert [c.index for c in reply.choices] == [0, 1]
    first = reply.choices[0].logprobs.content
    assert [t.logprob for t in first] == pytest.approx(
        [logprob_of(token_id(w)) for w in ["the", "answer", "is", "42"]]
    )
    assert all(len(t.top_logprobs) == 2 for t in first)
    # Without detokenize the token text is vLLM's token_id:N convention.
    assert first[0].token == f"token_id:{token_id('the')}"
    usage = reply.usage
    assert usage.prompt_tokens == 2  # "<user>hi</user>\n<assistant>" is two scripted words
    assert usage.completion_tokens == 4 + 3
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert usage.prompt_tokens_details.cached_tokens == 0


def test_chat_stop_and_max_tokens(oai: openai.OpenAI) -> None:
    reply = oai.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hi"}], stop=["is"], max_tokens=5
    )
    assert reply.choices[0].message.content == "the answer "
    assert reply.choices[0].finish_reason == "stop"
    reply = oai.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hi"}], max_tokens=1
    )
    assert reply.choices[0].finish_reason == "length"


def test_completions_order_prompts_then_samples(oai: openai.OpenAI) -> None:
    reply = oai.completions.create(
        model="m", prompt=["alpha", "beta"], n=2, max_tokens=4, logprobs=2
    )
    assert [c.text for c in reply.choices] == ["a0", "a1", "b0", "b1"]
    assert [c.index for c in reply.choices] == [0, 1, 2, 3]
    logprobs = reply.choices[0].logprobs
    assert logprobs.token_logprobs == pytest.approx([logprob_of(token_id("a0"))])
    assert len(logprobs.top_logprobs[0]) == 2
    assert reply.usage.prompt_tokens == 2
    assert reply.usage.completion_tokens == 4


def test_openai_errors_are_bad_requests(oai: openai.OpenAI, client: httpx.Client) -> None:
    with pytest.raises(openai.BadRequestError, match="n must be between"):
        oai.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}], n=0)
    with pytest.raises(openai.BadRequestError, match="temperature"):
        oai.completions.create(model="m", prompt="x", temperature=-0.5)
    with pytest.raises(openai.BadRequestError, match="messages"):
        oai.chat.completions.create(model="m", messages=[])
    response = client.post("/v1/chat/completions", content=b"{oops")
    assert response.status_code == 400
    assert "malformed JSON" in response.json()["error"]["message"]
    response = client.post("/v1/completions", json={"prompt": "x", "stream": "yes"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "stream"
