"""SGLang's native /generate over the scripted runtime: shapes, ordering, logprobs."""

from __future__ import annotations

import math

import httpx
import pytest

from tests.server.conftest import DetokenizingScripted, scripted_runtime
from ttc.plugins.runtimes.scripted import logprob_of, token_id
from ttc.plugins.server.background import BackgroundServer


def test_single_text_answers_one_object_in_sglang_shape(client: httpx.Client) -> None:
    body = {"text": "what is six times seven", "sampling_params": {"max_new_tokens": 16}}
    out = client.post("/generate", json=body).json()
    assert out["text"] == "the answer is 42"
    assert out["output_ids"] == [token_id(w) for w in ["the", "answer", "is", "42"]]
    meta = out["meta_info"]
    assert meta["prompt_tokens"] == 5
    assert meta["completion_tokens"] == 4
    assert meta["cached_tokens"] == 0
    assert meta["finish_reason"] == {"type": "stop", "matched": None}
    assert isinstance(meta["id"], str) and meta["id"]
    assert "output_token_logprobs" not in meta


def test_rid_is_kept_for_a_single_request(client: httpx.Client) -> None:
    out = client.post("/generate", json={"text": "x", "rid": "my-request"}).json()
    assert out["meta_info"]["id"] == "my-request"


def test_batch_with_n_is_text_major_like_sglang(client: httpx.Client) -> None:
    body = {"text": ["alpha?", "beta?"], "sampling_params": {"n": 3, "max_new_tokens": 4}}
    out = client.post("/generate", json=body).json()
    assert [o["text"] for o in out] == ["a0", "a1", "a2", "b0", "b1", "b2"]
    assert len({o["meta_info"]["id"] for o in out}) == 6
    # Samples after the first of each prompt reuse its prefill (scripted: cached).
    assert [o["meta_info"]["cached_tokens"] for o in out] == [0, 1, 1, 0, 1, 1]


def test_single_text_with_n_answers_a_list(client: httpx.Client) -> None:
    out = client.post("/generate", json={"text": "alpha", "sampling_params": {"n": 2}}).json()
    assert isinstance(out, list)
    assert [o["text"] for o in out] == ["a0", "a1"]


def test_batch_of_one_is_still_a_list(client: httpx.Client) -> None:
    out = client.post("/generate", json={"text": ["alpha"]}).json()
    assert isinstance(out, list) and out[0]["text"] == "a0"


def test_stop_string_cuts_the_text_and_is_reported(client: httpx.Client) -> None:
    body = {"text": "q", "sampling_params": {"stop": ["42", "zzz"]}}
    out = client.post("/generate", json=body).json()
    assert out["text"] == "the answer is "
    assert out["meta_info"]["finish_reason"] == {"type": "stop", "matched": "42"}


def test_max_new_tokens_gives_a_length_finish(client: httpx.Client) -> None:
    out = client.post("/generate", json={"text": "q", "sampling_params": {"max_new_tokens": 2}})
    meta = out.json()["meta_info"]
    assert out.json()["text"] == "the answer"
    assert meta["finish_reason"] == {"type": "length", "length": 2}
    assert meta["completion_tokens"] == 2


def test_output_logprobs_are_logprob_id_text_triples(client: httpx.Client) -> None:
    body = {
        "text": "q",
        "return_logprob": True,
        "top_logprobs_num": 3,
        "token_ids_logprob": [5, 7],
        "sampling_params": {"max_new_tokens": 8},
    }
    meta = client.post("/generate", json=body).json()["meta_info"]
    ids = [token_id(w) for w in ["the", "answer", "is", "42"]]
    assert meta["output_token_logprobs"] == [
        [pytest.approx(logprob_of(t)), t, None] for t in ids
    ]
    assert len(meta["output_top_logprobs"]) == 4
    for position, sampled in zip(meta["output_top_logprobs"], ids, strict=True):
        assert len(position) == 3
        values = [entry[0] for entry in position]
        assert values == sorted(values, reverse=True)
        assert position[0][1] == sampled  # the scripted distribution peaks on its token
        assert all(entry[2] is None for entry in position)
    for position in meta["output_token_ids_logprobs"]:
        assert [entry[1] for entry in position] == [5, 7]
        assert all(entry[0] < 0 for entry in position)
    # Default logprob_start_len = -1: one null entry for the last prompt token, as SGLang.
    assert meta["input_token_logprobs"] == [[None, token_id("q"), None]]
    assert meta["input_top_logprobs"] == [None]
    assert meta["input_token_ids_logprobs"] == [None]


def test_prefill_only_scoring_returns_prompt_logprobs(client: httpx.Client) -> None:
    words = ["the", "quick", "brown", "fox", "jumps"]
    body = {
        "text": " ".join(words),
        "return_logprob": True,
        "logprob_start_len": 0,
        "top_logprobs_num": 2,
        "sampling_params": {"max_new_tokens": 0},
    }
    out = client.post("/generate", json=body).json()
    meta = out["meta_info"]
    assert out["text"] == "" and out["output_ids"] == []
    assert meta["finish_reason"] == {"type": "length", "length": 0}
    assert meta["completion_tokens"] == 0
    assert meta["output_token_logprobs"] == []
    ids = [token_id(w) for w in words]
    assert [e[1] for e in meta["input_token_logprobs"]] == ids
    assert meta["input_token_logprobs"][0][0] is None
    assert [e[0] for e in meta["input_token_logprobs"][1:]] == pytest.approx(
        [logprob_of(t) for t in ids[1:]]
    )
    assert meta["input_top_logprobs"][0] is None
    assert all(len(p) == 2 for p in meta["input_top_logprobs"][1:])


def test_logprob_start_len_skips_the_prompt_head(client: httpx.Client) -> None:
    words = ["one", "two", "three", "four"]
    body = {
        "text": " ".join(words),
        "return_logprob": True,
        "logprob_start_len": 2,
        "sampling_params": {"max_new_tokens": 0},
    }
    meta = client.post("/generate", json=body).json()["meta_info"]
    entries = meta["input_token_logprobs"]
    assert [e[1] for e in entries] == [token_id("three"), token_id("four")]
    assert entries[0][0] is None  # SGLang: the first returned prompt entry is always null
    assert entries[1][0] == pytest.approx(logprob_of(token_id("four")))


def test_per_text_logprob_options_in_a_batch(client: httpx.Client) -> None:
    body = {"text": ["alpha", "beta"], "return_logprob": [True, False]}
    out = client.post("/generate", json=body).json()
    assert "output_token_logprobs" in out[0]["meta_info"]
    assert "output_token_logprobs" not in out[1]["meta_info"]


def test_text_in_logprobs_and_input_ids_need_a_detokenizing_runtime(
    client: httpx.Client,
) -> None:
    body = {"text": "q", "return_logprob": True, "return_text_in_logprobs": True}
    meta = client.post("/generate", json=body).json()["meta_info"]
    assert all(entry[2] is None for entry in meta["output_token_logprobs"])
    refused = client.post("/generate", json={"input_ids": [1, 2, 3]})
    assert refused.status_code == 400
    assert "detokenize" in refused.json()["error"]["message"]


def test_text_in_logprobs_and_input_ids_with_a_detokenizing_runtime() -> None:
    runtime = scripted_runtime(DetokenizingScripted)
    with BackgroundServer(runtime) as server, httpx.Client(base_url=server.url) as http:
        body = {"text": "hello there", "return_logprob": True, "return_text_in_logprobs": True}
        meta = http.post("/generate", json=body).json()["meta_info"]
        assert [e[2] for e in meta["output_token_logprobs"]] == ["the", "answer", "is", "42"]
        assert meta["input_token_logprobs"] == [[None, token_id("there"), "there"]]
        http.post("/generate", json={"text": "alpha beta"})  # the runtime learns these words
        ids = [token_id("alpha"), token_id("beta")]
        out = http.post("/generate", json={"input_ids": [ids[:1], ids]}).json()
        assert [o["text"] for o in out] == ["a0", "a0"]
        assert [o["meta_info"]["prompt_tokens"] for o in out] == [1, 2]


def test_logprobs_are_finite_json_numbers(client: httpx.Client) -> None:
    body = {"text": "q", "return_logprob": True, "top_logprobs_num": 5}
    meta = client.post("/generate", json=body).json()["meta_info"]
    values = [e[0] for p in meta["output_top_logprobs"] for e in p]
    assert all(isinstance(v, float) and math.isfinite(v) for v in values)
