"""``ttc serve`` over the real embedded model (SmolLM2-135M), loaded once per session."""

from __future__ import annotations

import httpx
import openai
import pytest

from ttc.plugins.server.background import BackgroundServer

pytestmark = pytest.mark.model

PROMPT = "The capital of France is"


def generate(client: httpx.Client, **body: object) -> object:
    response = client.post("/generate", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_samples_with_n(local_client: httpx.Client) -> None:
    out = generate(
        local_client,
        text=PROMPT,
        sampling_params={"n": 3, "max_new_tokens": 6, "temperature": 1.0, "sampling_seed": 1},
    )
    assert len(out) == 3
    for sample in out:
        meta = sample["meta_info"]
        assert meta["prompt_tokens"] == 5
        assert 1 <= meta["completion_tokens"] == len(sample["output_ids"]) <= 6
        assert meta["finish_reason"]["type"] in ("stop", "length")
    assert len({tuple(s["output_ids"]) for s in out}) > 1  # three draws, not one repeated


def test_seeds_are_reproducible(local_client: httpx.Client) -> None:
    params = {"n": 2, "max_new_tokens": 8, "temperature": 1.0, "sampling_seed": 1234}
    first = generate(local_client, text=PROMPT, sampling_params=params)
    again = generate(local_client, text=PROMPT, sampling_params=params)
    assert [s["output_ids"] for s in first] == [s["output_ids"] for s in again]


def test_greedy_logprobs_top_k_and_token_id_logprobs(local_client: httpx.Client) -> None:
    greedy = {"max_new_tokens": 5, "temperature": 0}
    plain = generate(local_client, text=PROMPT, sampling_params=greedy)
    first_token = plain["output_ids"][0]
    out = generate(
        local_client,
        text=PROMPT,
        sampling_params=greedy,
        return_logprob=True,
        top_logprobs_num=3,
        token_ids_logprob=[first_token, 0],
    )
    meta = out["meta_info"]
    assert out["output_ids"] == plain["output_ids"]
    sampled = meta["output_token_logprobs"]
    assert [entry[1] for entry in sampled] == out["output_ids"]
    assert all(entry[0] <= 0 for entry in sampled)
    for top, entry in zip(meta["output_top_logprobs"], sampled, strict=True):
        assert len(top) == 3
        assert top[0][1] == entry[1]  # greedy: the sampled token is the most likely one
        assert top[0][0] == pytest.approx(entry[0], abs=1e-5)
    by_id = meta["output_token_ids_logprobs"][0]
    assert [e[1] for e in by_id] == [first_token, 0]
    assert by_id[0][0] == pytest.approx(sampled[0][0], abs=1e-5)


def test_prefill_scoring_matches_generation_logprobs(local_client: httpx.Client) -> None:
    generated = generate(
        local_client,
        text=PROMPT,
        sampling_params={"max_new_tokens": 5, "temperature": 0},
        return_logprob=True,
    )
    prompt_tokens = generated["meta_info"]["prompt_tokens"]
    scored = generate(
        local_client,
        text=PROMPT + generated["text"],
        sampling_params={"max_new_tokens": 0},
        return_logprob=True,
        logprob_start_len=prompt_tokens,
    )
    meta = scored["meta_info"]
    assert scored["text"] == "" and meta["completion_tokens"] == 0
    entries = meta["input_token_logprobs"]
    assert [e[1] for e in entries] == generated["output_ids"]
    assert entries[0][0] is None  # SGLang: the first returned prompt entry is null
    expected = [e[0] for e in generated["meta_info"]["output_token_logprobs"][1:]]
    assert [e[0] for e in entries[1:]] == pytest.approx(expected, abs=2e-3)


def test_shared_prefix_is_served_from_the_cache(local_client: httpx.Client) -> None:
    assert local_client.post("/flush_cache").status_code == 200
    prefix = "You are a careful assistant. Answer briefly. "
    first = generate(local_client, text=prefix + "What is 2+2?", sampling_params={
        "max_new_tokens": 2, "temperature": 0})
    second = generate(local_client, text=prefix + "What is 3+3?", sampling_params={
        "max_new_tokens": 2, "temperature": 0})
    assert first["meta_info"]["cached_tokens"] == 0
    assert second["meta_info"]["cached_tokens"] >= 5


def test_model_info_reports_the_loaded_model(local_client: httpx.Client) -> None:
    info = local_client.get("/model_info").json()
    assert info["model_path"] and info["tokenizer_path"] and info["is_generation"] is True
    assert info["context_length"] >= 2048


@pytest.fixture
def oai(local_server: BackgroundServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=local_server.url + "/v1", api_key="unused", max_retries=0)


def test_official_openai_client_chat(oai: openai.OpenAI) -> None:
    reply = oai.chat.completions.create(
        model="smollm2",
        messages=[{"role": "user", "content": "Say hello."}],
        n=2,
        max_tokens=6,
        temperature=0.8,
        seed=7,
        logprobs=True,
        top_logprobs=2,
    )
    assert len(reply.choices) == 2
    for choice in reply.choices:
        assert isinstance(choice.message.content, str) and choice.message.content
        assert choice.finish_reason in ("stop", "length")
        tokens = choice.logprobs.content
        assert 1 <= len(tokens) <= 6
        assert all(t.logprob <= 0 and len(t.top_logprobs) == 2 for t in tokens)
    assert reply.usage.completion_tokens == sum(len(c.logprobs.content) for c in reply.choices)
    assert reply.usage.prompt_tokens > 0
    assert reply.usage.prompt_tokens_details.cached_tokens >= 0


def test_official_openai_client_completions(oai: openai.OpenAI) -> None:
    reply = oai.completions.create(
        model="smollm2", prompt=[PROMPT, "1, 2, 3,"], n=2, max_tokens=4, logprobs=2, seed=3
    )
    assert len(reply.choices) == 4
    assert [c.index for c in reply.choices] == [0, 1, 2, 3]
    for choice in reply.choices:
        assert len(choice.logprobs.token_logprobs) == len(choice.logprobs.tokens) <= 4
        assert all(len(top) <= 2 for top in choice.logprobs.top_logprobs)
    assert reply.usage.prompt_tokens > 5  # both prompts, each counted once
