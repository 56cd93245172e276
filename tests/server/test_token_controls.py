"""Exact token prompts, echo with prompt logprobs and SGLang's token-level sampling fields:
honoured by the real model with SGLang's semantics, refused with a 400 naming the field by a
runtime without them, never ignored."""

from __future__ import annotations

import asyncio

import httpx
import openai
import pytest
import torch

from ttc.plugins.runtimes.local.logit_controls import shape_logits
from ttc.plugins.server.background import BackgroundServer
from ttc.token_controls import TokenControls

CHAT = [{"role": "user", "content": "Say hi"}]


def post(client: httpx.Client, path: str, body: dict) -> dict:
    response = client.post(path, json=body)
    assert response.status_code == 200, response.text
    return response.json()


# --- the logit rule itself ---------------------------------------------------------------------


def test_penalties_bias_and_min_new_tokens_shape_logits_as_sglang_does() -> None:
    logits = torch.tensor([1.0, -1.0, 2.0, 0.5, 3.0])
    controls = TokenControls(repetition_penalty=2.0, frequency_penalty=0.5, presence_penalty=0.25,
                             logit_bias=((3, 10.0),), min_new_tokens=4, stop_token_ids=(0,))
    shape_logits(logits, controls, [1, 2, 2], eos_ids=frozenset({4}))
    # token 1 seen once: -1 × 2 − 0.5 − 0.25; token 2 twice: 2 / 2 − 1.0 − 0.25
    assert logits[1].item() == pytest.approx(-2.75)
    assert logits[2].item() == pytest.approx(-0.25)
    assert logits[3].item() == pytest.approx(10.5)  # biased
    assert logits[0].item() == float("-inf") and logits[4].item() == float("-inf")  # too early
    late = torch.tensor([1.0, -1.0, 2.0, 0.5, 3.0])
    shape_logits(late, TokenControls(min_new_tokens=2), [1, 2], eos_ids=frozenset({4}))
    assert late.tolist() == [1.0, -1.0, 2.0, 0.5, 3.0]


# --- refused by a runtime without controls (scripted) ------------------------------------------


@pytest.mark.parametrize(("field", "value"), [
    ("ignore_eos", True), ("min_new_tokens", 2), ("stop_token_ids", [5]),
    ("logit_bias", {"5": 1.0}), ("frequency_penalty", 0.5), ("presence_penalty", 0.5),
    ("repetition_penalty", 1.2), ("no_stop_trim", True), ("skip_special_tokens", False),
    ("ebnf", "root ::= \"a\""), ("stop_regex", "a+"),
])
def test_generate_refuses_each_control_the_runtime_lacks_naming_it(
        client: httpx.Client, field: str, value: object) -> None:
    response = client.post("/generate", json={"text": "q", "sampling_params": {field: value}})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == f"sampling_params.{field}"


@pytest.mark.parametrize(("field", "value"), [
    ("ignore_eos", True), ("min_tokens", 2), ("stop_token_ids", [5]), ("logit_bias", {"5": 1.0}),
    ("frequency_penalty", 0.5), ("presence_penalty", 0.5), ("repetition_penalty", 1.2),
    ("no_stop_trim", True), ("skip_special_tokens", False), ("regex", "a+"),
    ("json_schema", "{}"), ("ebnf", "root ::= \"a\""), ("guided_regex", "a+"),
])
@pytest.mark.parametrize("path", ["/v1/completions", "/v1/chat/completions"])
def test_openai_endpoints_refuse_each_control_the_runtime_lacks_naming_it(
        client: httpx.Client, path: str, field: str, value: object) -> None:
    body = {"prompt": "q"} if path == "/v1/completions" else {
        "messages": [{"role": "user", "content": "q"}]}
    response = client.post(path, json={**body, field: value})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == field


def test_model_card_by_id_and_server_token_capacity(client: httpx.Client) -> None:
    card = client.get("/v1/models").json()["data"][0]
    one = client.get(f"/v1/models/{card['id']}")
    assert one.status_code == 200
    assert {**one.json(), "created": 0} == {**card, "created": 0}
    missing = client.get("/v1/models/no-such-model")
    assert missing.status_code == 404 and missing.json()["error"]["param"] == "model"
    info = client.get("/get_server_info").json()
    assert info["max_total_num_tokens"] == info["context_length"]


# --- honoured by the real model ----------------------------------------------------------------


@pytest.mark.model
def test_input_ids_are_used_exactly_as_sent(local_client: httpx.Client, local_runtime) -> None:
    tokenize = local_runtime.tokenize
    ids = asyncio.run(tokenize("H")) + asyncio.run(tokenize("ello")) + asyncio.run(
        tokenize(" world"))
    assert asyncio.run(tokenize("Hello world")) != ids  # decoding and re-tokenising changes them
    params = {"max_new_tokens": 3, "temperature": 0}
    out = post(local_client, "/generate", {"input_ids": ids, "sampling_params": params,
                                           "return_logprob": True, "logprob_start_len": 0})
    meta = out["meta_info"]
    assert meta["prompt_tokens"] == len(ids)
    assert [entry[1] for entry in meta["input_token_logprobs"]] == ids
    completion = post(local_client, "/v1/completions", {"prompt": ids, "max_tokens": 3,
                                                        "temperature": 0})
    assert completion["usage"]["prompt_tokens"] == len(ids)
    assert completion["choices"][0]["text"] == out["text"]


@pytest.mark.model
def test_openai_client_echo_returns_the_prompt_with_its_logprobs(
        local_server: BackgroundServer, local_client: httpx.Client, local_runtime) -> None:
    api = openai.OpenAI(base_url=local_server.url + "/v1", api_key="unused")
    prompt = "The capital of France is Paris"
    prompt_ids = asyncio.run(local_runtime.tokenize(prompt))
    scored = post(local_client, "/generate", {
        "text": prompt, "sampling_params": {"max_new_tokens": 0}, "return_logprob": True,
        "logprob_start_len": 0})["meta_info"]["input_token_logprobs"]
    only_prompt = api.completions.create(model="m", prompt=prompt, max_tokens=0, echo=True,
                                         logprobs=1)
    choice = only_prompt.choices[0]
    assert choice.text == prompt
    assert choice.logprobs.token_logprobs[0] is None
    assert choice.logprobs.token_logprobs[1:] == pytest.approx([e[0] for e in scored[1:]],
                                                               abs=1e-4)
    assert "".join(choice.logprobs.tokens) == prompt
    assert choice.logprobs.top_logprobs[0] is None
    assert all(len(top) == 1 for top in choice.logprobs.top_logprobs[1:])
    one_more = api.completions.create(model="m", prompt=[prompt_ids], max_tokens=1, echo=True,
                                      logprobs=0, temperature=0)
    choice = one_more.choices[0]
    assert len(choice.logprobs.tokens) == len(prompt_ids) + 1
    assert choice.text.startswith(prompt) and len(choice.text) > len(prompt)
    chunks = list(api.completions.create(model="m", prompt=prompt, max_tokens=2, echo=True,
                                         temperature=0, logprobs=1, stream=True))
    plain = api.completions.create(model="m", prompt=prompt, max_tokens=2, echo=True,
                                   temperature=0, logprobs=1)
    assert "".join(c.choices[0].text for c in chunks) == plain.choices[0].text
    assert chunks[0].choices[0].text.startswith(prompt)
    streamed_tokens = [t for c in chunks for t in c.choices[0].logprobs.tokens]
    assert streamed_tokens == plain.choices[0].logprobs.tokens
    streamed_offsets = [o for c in chunks for o in c.choices[0].logprobs.text_offset]
    assert streamed_offsets == plain.choices[0].logprobs.text_offset


@pytest.mark.model
def test_eos_ignore_eos_and_min_tokens_on_chat(local_client: httpx.Client, local_runtime) -> None:
    body = {"messages": CHAT, "max_tokens": 60, "temperature": 0}
    plain = post(local_client, "/v1/chat/completions", body)
    choice = plain["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert choice["matched_stop"] == local_runtime.eos_token_id  # EOS named, as SGLang does
    natural = plain["usage"]["completion_tokens"]
    assert natural < 60
    ignoring = post(local_client, "/v1/chat/completions", {**body, "ignore_eos": True})
    assert ignoring["choices"][0]["finish_reason"] == "length"
    assert ignoring["usage"]["completion_tokens"] == 60
    longer = post(local_client, "/v1/chat/completions", {**body, "min_tokens": natural + 5})
    assert longer["usage"]["completion_tokens"] >= natural + 5


@pytest.mark.model
def test_stop_token_ids_no_stop_trim_and_logit_bias_on_generate(local_client: httpx.Client
                                                                 ) -> None:
    text = "The capital of France is"
    greedy = {"max_new_tokens": 6, "temperature": 0}
    plain = post(local_client, "/generate", {"text": text, "sampling_params": greedy})
    stop_id = plain["output_ids"][1]
    stopped = post(local_client, "/generate", {
        "text": text, "sampling_params": {**greedy, "stop_token_ids": [stop_id]}})
    assert stopped["output_ids"] == plain["output_ids"][:2]
    assert stopped["meta_info"]["finish_reason"] == {"type": "stop", "matched": stop_id}
    first_text = post(local_client, "/generate", {
        "input_ids": plain["output_ids"][:1], "sampling_params": {"max_new_tokens": 0}})
    assert first_text["meta_info"]["prompt_tokens"] == 1
    kept = post(local_client, "/generate", {
        "text": text, "sampling_params": {**greedy, "stop_token_ids": [stop_id],
                                          "no_stop_trim": True}})
    assert len(kept["text"]) > len(stopped["text"]) and kept["text"].startswith(stopped["text"])
    trimmed = post(local_client, "/generate", {"text": text, "sampling_params": {
        **greedy, "stop": ["."]}})
    untrimmed = post(local_client, "/generate", {"text": text, "sampling_params": {
        **greedy, "stop": ["."], "no_stop_trim": True}})
    assert untrimmed["text"] == trimmed["text"] + "."
    forced = 11  # any token other than the greedy one
    biased = post(local_client, "/generate", {
        "text": text, "sampling_params": {**greedy, "logit_bias": {str(forced): 100.0}},
        "return_logprob": True, "token_ids_logprob": [forced]})
    assert biased["output_ids"][0] == forced
    raw = biased["meta_info"]["output_token_ids_logprobs"][0][0][0]
    assert biased["meta_info"]["output_token_logprobs"][0][0] == pytest.approx(raw)
    assert raw < -1.0  # the model's own logprob, not the biased distribution's


@pytest.mark.model
def test_special_tokens_are_skipped_unless_asked(local_client: httpx.Client) -> None:
    params = {"max_new_tokens": 3, "temperature": 0, "logit_bias": {"1": 100.0}}
    skipped = post(local_client, "/generate", {"text": "Hi", "sampling_params": params})
    kept = post(local_client, "/generate", {"text": "Hi", "sampling_params": {
        **params, "skip_special_tokens": False}})
    assert skipped["output_ids"] == kept["output_ids"] == [1, 1, 1]
    assert skipped["text"] == ""
    assert kept["text"] == "<|im_start|>" * 3


@pytest.mark.model
def test_penalties_change_a_repetitive_greedy_answer(local_client: httpx.Client) -> None:
    text = "one, two, one, two, one, two, one, two,"
    greedy = {"max_new_tokens": 8, "temperature": 0}
    plain = post(local_client, "/generate", {"text": text, "sampling_params": greedy})
    for field, value in [("frequency_penalty", 2.0), ("presence_penalty", 2.0),
                         ("repetition_penalty", 2.0)]:
        shaped = post(local_client, "/generate", {
            "text": text, "sampling_params": {**greedy, field: value}})
        assert len(set(shaped["output_ids"])) > len(set(plain["output_ids"])), field
    bad = local_client.post("/generate", json={"text": text, "sampling_params": {
        "frequency_penalty": 3.0}})
    assert bad.status_code == 400
    assert bad.json()["error"]["param"] == "sampling_params.frequency_penalty"
