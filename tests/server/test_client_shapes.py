"""Requests as other clients send them: lm-evaluation-harness' ``local-completions``
log-likelihood and generate-until payloads (token-id prompts, ``echo``, ``logprobs``), and
LiteLLM streaming through its OpenAI provider."""

from __future__ import annotations

import asyncio
import math

import httpx
import pytest

from ttc.plugins.server.background import BackgroundServer


@pytest.mark.model
def test_lm_eval_loglikelihood_payload_scores_the_continuation(local_client: httpx.Client,
                                                               local_runtime) -> None:
    """lm-eval sends context + continuation as token ids with echo, max_tokens 1 and
    logprobs 1, then reads token_logprobs[ctxlen:-1] and checks greediness against
    top_logprobs at the same positions."""
    pairs = [("The capital of France is", " Paris"), ("2 + 2 =", " 4")]
    prompts, lengths = [], []
    for context, continuation in pairs:
        ids = asyncio.run(local_runtime.tokenize(context))
        lengths.append(len(ids))
        prompts.append(ids + asyncio.run(local_runtime.tokenize(continuation)))
    response = local_client.post("/v1/completions", json={
        "model": "m", "prompt": prompts, "temperature": 0, "max_tokens": 1, "logprobs": 1,
        "seed": 1234, "echo": True})
    assert response.status_code == 200, response.text
    choices = sorted(response.json()["choices"], key=lambda c: c["index"])
    for choice, ids, length, (context, continuation) in zip(choices, prompts, lengths, pairs,
                                                             strict=True):
        logprobs = choice["logprobs"]
        assert len(logprobs["tokens"]) == len(ids) + 1
        values = logprobs["token_logprobs"][length:-1]
        tops = logprobs["top_logprobs"][length:-1]
        assert len(values) == len(ids) - length and all(v <= 0 for v in values)
        assert all(len(top) == 1 for top in tops)
        scored = local_client.post("/generate", json={
            "text": context + continuation, "sampling_params": {"max_new_tokens": 0},
            "return_logprob": True, "logprob_start_len": 0}).json()["meta_info"]
        expected = [e[0] for e in scored["input_token_logprobs"][length:]]
        assert sum(values) == pytest.approx(sum(expected), abs=1e-3)
        assert math.isfinite(sum(values))


@pytest.mark.model
def test_lm_eval_generate_until_payload(local_client: httpx.Client) -> None:
    response = local_client.post("/v1/completions", json={
        "model": "m", "prompt": ["Q: What is 2 + 2?\nA:", "Q: Name a colour.\nA:"],
        "max_tokens": 16, "temperature": 0, "stop": ["\n\n", "Q:"], "seed": 1234})
    assert response.status_code == 200, response.text
    for choice in response.json()["choices"]:
        assert "Q:" not in choice["text"] and "\n\n" not in choice["text"]
        assert choice["finish_reason"] in ("stop", "length")


def test_litellm_streams_chat_from_ttc_serve(scripted_server: BackgroundServer,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # offline: no cost-map fetch
    litellm = pytest.importorskip("litellm")
    messages = [{"role": "user", "content": "alpha"}]
    common = {"model": "openai/scripted-model", "api_base": scripted_server.url + "/v1",
              "api_key": "unused", "messages": messages}
    whole = litellm.completion(**common)
    chunks = list(litellm.completion(**common, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content == "a0"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
