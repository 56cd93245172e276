"""Streaming on /generate (SGLang's SSE chunks) and /v1 (OpenAI deltas): over the scripted
runtime (whole samples in one chunk each) and the real model (a chunk per token), and a
client that goes away mid-stream cancels its request in the engine."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

import httpx
import openai
import pytest

from ttc.plugins.server.background import BackgroundServer
from ttc.plugins.server.streaming import settled_text


def events(client: httpx.Client, path: str, body: dict[str, Any]) -> list[Any]:
    """Every ``data:`` payload of a stream, ``[DONE]`` as the string it is."""
    out = []
    with client.stream("POST", path, json=body) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line:
                assert line.startswith("data: ")
                payload = line[len("data: "):]
                out.append(payload if payload == "[DONE]" else json.loads(payload))
    return out


def by_index(chunks: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    grouped: dict[int, list[dict[str, Any]]] = {}
    for chunk in chunks:
        grouped.setdefault(chunk["index"], []).append(chunk)
    return grouped


# --- the held-back text -----------------------------------------------------------------------


def test_settled_text_holds_back_incomplete_characters_and_stop_prefixes() -> None:
    assert settled_text("", "Hello \ufffd", ()) == "Hello "
    assert settled_text("", "The end\n", ("\n\n",)) == "The end"
    assert settled_text("", "a ST", ("STOP",)) == "a "
    assert settled_text("a ", "a STx", ("STOP",)) == "a STx"
    assert settled_text("abc", "ab", ()) == "abc"  # never shrinks


# --- scripted runtime: a stream of whole samples ----------------------------------------------


def test_generate_stream_batch_with_n_ends_with_the_non_streamed_outputs(
        client: httpx.Client) -> None:
    body = {"text": ["alpha?", "beta?"], "sampling_params": {"n": 2, "max_new_tokens": 4}}
    whole = client.post("/generate", json=body).json()
    chunks = events(client, "/generate", {**body, "stream": True})
    assert chunks[-1] == "[DONE]"
    grouped = by_index(chunks[:-1])
    assert sorted(grouped) == [0, 1, 2, 3]
    for index, outputs in grouped.items():
        last = outputs[-1]
        assert last["text"] == whole[index]["text"]
        assert last["output_ids"] == whole[index]["output_ids"]
        assert last["meta_info"]["finish_reason"] == whole[index]["meta_info"]["finish_reason"]
        assert all(o["meta_info"]["finish_reason"] is None for o in outputs[:-1])


def test_a_request_refused_before_streaming_is_a_plain_400(client: httpx.Client) -> None:
    body = {"text": "x", "stream": True, "sampling_params": {"n": 1000}}
    response = client.post("/generate", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "sampling_params.n"
    response = client.post("/v1/completions", json={"prompt": "x", "stream_options": {
        "include_usage": True}})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "stream_options"


def test_openai_client_streams_chat_from_the_scripted_runtime(
        scripted_server: BackgroundServer) -> None:
    api = openai.OpenAI(base_url=scripted_server.url + "/v1", api_key="unused")
    stream = api.chat.completions.create(
        model="scripted-model", messages=[{"role": "user", "content": "alpha"}], n=3,
        stream=True, stream_options={"include_usage": True})
    texts: dict[int, str] = {}
    finish: dict[int, str] = {}
    usage = None
    for chunk in stream:
        if not chunk.choices:
            usage = chunk.usage
            continue
        for choice in chunk.choices:
            texts[choice.index] = texts.get(choice.index, "") + (choice.delta.content or "")
            if choice.finish_reason:
                finish[choice.index] = choice.finish_reason
    assert texts == {0: "a0", 1: "a1", 2: "a2"}
    assert finish == {0: "stop", 1: "stop", 2: "stop"}
    assert usage is not None and usage.completion_tokens == 3


# --- the real model: a chunk per token --------------------------------------------------------


@pytest.mark.model
def test_generate_stream_sends_each_token_cumulatively_and_ends_as_without_stream(
        local_client: httpx.Client) -> None:
    body = {"text": ["The capital of France is", "2 + 2 ="],
            "sampling_params": {"n": 2, "max_new_tokens": 6, "temperature": 0.8,
                                "sampling_seed": 11},
            "return_logprob": True, "top_logprobs_num": 2}
    whole = local_client.post("/generate", json=body).json()
    chunks = events(local_client, "/generate", {**body, "stream": True})
    assert chunks[-1] == "[DONE]"
    grouped = by_index(chunks[:-1])
    assert sorted(grouped) == [0, 1, 2, 3]
    for index, outputs in grouped.items():
        expected = whole[index]
        assert len(outputs) >= len(expected["output_ids"])  # a chunk per token at least
        for before, after in itertools.pairwise(outputs):
            assert after["text"].startswith(before["text"])
            assert after["output_ids"][: len(before["output_ids"])] == before["output_ids"]
        for output in outputs:
            meta = output["meta_info"]
            assert meta["completion_tokens"] == len(output["output_ids"])
            assert [e[1] for e in meta["output_token_logprobs"]] == output["output_ids"]
            assert len(meta["output_top_logprobs"]) == len(output["output_ids"])
        last = outputs[-1]
        assert last["text"] == expected["text"]
        assert last["output_ids"] == expected["output_ids"]
        assert last["meta_info"]["finish_reason"] == expected["meta_info"]["finish_reason"]
        assert [e[0] for e in last["meta_info"]["output_token_logprobs"]] == pytest.approx(
            [e[0] for e in expected["meta_info"]["output_token_logprobs"]], abs=1e-4)


@pytest.mark.model
def test_openai_chat_stream_with_logprobs_and_usage_equals_the_plain_answer(
        local_server: BackgroundServer) -> None:
    api = openai.OpenAI(base_url=local_server.url + "/v1", api_key="unused")
    request = {"model": "smollm2", "messages": [{"role": "user", "content": "Say hi"}],
               "n": 2, "max_tokens": 8, "seed": 3, "temperature": 0.8, "logprobs": True,
               "top_logprobs": 2}
    whole = api.chat.completions.create(**request)
    stream = api.chat.completions.create(**request, stream=True,
                                         stream_options={"include_usage": True})
    texts: dict[int, str] = {}
    tokens: dict[int, list[str]] = {}
    roles: dict[int, str] = {}
    finish: dict[int, str] = {}
    usage = None
    for chunk in stream:
        if not chunk.choices:
            usage = chunk.usage
            continue
        assert chunk.object == "chat.completion.chunk"
        for choice in chunk.choices:
            if choice.delta.role:
                roles[choice.index] = choice.delta.role
            texts[choice.index] = texts.get(choice.index, "") + (choice.delta.content or "")
            # As SGLang streams: every chunk, the last one too, carries its token's logprobs.
            assert choice.logprobs is not None and choice.logprobs.content
            if choice.logprobs:
                assert all(len(e.top_logprobs) == 2 for e in choice.logprobs.content)
                tokens.setdefault(choice.index, []).extend(
                    e.token for e in choice.logprobs.content)
            if choice.finish_reason:
                finish[choice.index] = choice.finish_reason
    assert roles == {0: "assistant", 1: "assistant"}
    for choice in whole.choices:
        assert texts[choice.index] == choice.message.content
        assert tokens[choice.index] == [e.token for e in choice.logprobs.content]
        assert finish[choice.index] == choice.finish_reason
    assert usage is not None
    assert usage.prompt_tokens == whole.usage.prompt_tokens
    assert usage.completion_tokens == whole.usage.completion_tokens


@pytest.mark.model
def test_openai_completions_stream_equals_the_plain_answer(
        local_server: BackgroundServer) -> None:
    api = openai.OpenAI(base_url=local_server.url + "/v1", api_key="unused")
    request = {"model": "smollm2", "prompt": ["2 + 2 =", "Hello"], "max_tokens": 6,
               "temperature": 0, "logprobs": 2}
    whole = api.completions.create(**request)
    texts: dict[int, str] = {}
    tokens: dict[int, list[str]] = {}
    offsets: dict[int, list[int]] = {}
    for chunk in api.completions.create(**request, stream=True):
        for choice in chunk.choices:
            texts[choice.index] = texts.get(choice.index, "") + choice.text
            assert choice.logprobs is not None and choice.logprobs.tokens
            if choice.logprobs:
                tokens.setdefault(choice.index, []).extend(choice.logprobs.tokens)
                offsets.setdefault(choice.index, []).extend(choice.logprobs.text_offset)
    for choice in whole.choices:
        assert texts[choice.index] == choice.text
        assert tokens[choice.index] == choice.logprobs.tokens
        assert offsets[choice.index] == choice.logprobs.text_offset


@pytest.mark.model
@pytest.mark.slow
def test_a_client_that_leaves_a_stream_cancels_its_request(
        local_server: BackgroundServer, local_runtime) -> None:
    engine = local_runtime.engine
    body = {"text": "Count from one to one thousand: one, two,", "stream": True,
            "sampling_params": {"max_new_tokens": 2000, "temperature": 0}}
    steps_before = engine.steps
    with httpx.Client(base_url=local_server.url, timeout=120) as http, http.stream(
            "POST", "/generate", json=body) as response:
        first = next(line for line in response.iter_lines() if line)
        assert json.loads(first[len("data: "):])["meta_info"]["finish_reason"] is None
    deadline = time.monotonic() + 60
    while engine.active_rows:  # the row leaves at the next step boundary
        assert time.monotonic() < deadline, "the abandoned stream kept decoding"
        time.sleep(0.05)
    assert engine.steps - steps_before < 2000
