"""Constrained decoding on the real model (llguidance): every sample matches its regex, JSON
schema or EBNF grammar across seeds, on the engine and through both APIs, and the reported
logprobs stay those of the unconstrained model."""

from __future__ import annotations

import asyncio
import json
import re

import httpx
import openai
import pytest

from ttc.plugins.server.background import BackgroundServer
from ttc.runtime import Capability, GenerateRequest, SamplingParams
from ttc.token_controls import TokenControls

pytest.importorskip("llguidance")
pytestmark = pytest.mark.model

QUESTION = [{"role": "user", "content": "Is 7 a prime number? Answer and give a number."}]
REGEX = r"(yes|no), [0-9]{1,3}"
SCHEMA = {"type": "object", "properties": {"answer": {"type": "integer"},
                                           "why": {"type": "string", "maxLength": 24}},
          "required": ["answer", "why"], "additionalProperties": False}


def check_schema(text: str) -> None:
    value = json.loads(text)
    assert set(value) == {"answer", "why"}
    assert isinstance(value["answer"], int) and isinstance(value["why"], str)
    assert len(value["why"]) <= 24


def test_local_runtime_offers_constrained_decoding(local_runtime) -> None:
    assert Capability.CONSTRAINED in local_runtime.capabilities


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_sample_matches_its_regex_and_schema(local_runtime, seed: int) -> None:
    prompt = asyncio.run(local_runtime.render(QUESTION))

    def sample(**kwargs: object) -> list:
        return asyncio.run(local_runtime.generate(GenerateRequest(
            prompt, SamplingParams(max_tokens=48, temperature=1.0, seed=seed), n=4,
            **kwargs)))  # type: ignore[arg-type]

    for completion in sample(regex=REGEX):
        assert completion.finish_reason == "stop"
        assert re.fullmatch(REGEX, completion.text), completion.text
    for completion in sample(json_schema=json.dumps(SCHEMA)):
        assert completion.finish_reason == "stop"
        check_schema(completion.text)


def test_ebnf_constrains_and_statistics_stay_those_of_the_model(local_runtime) -> None:
    prompt = asyncio.run(local_runtime.render(QUESTION))
    grammar = 'root ::= ("Yes" | "No") "." '
    [free] = asyncio.run(local_runtime.generate(GenerateRequest(
        prompt, SamplingParams(max_tokens=2, temperature=0), token_ids_logprob=(0,))))
    completions = asyncio.run(local_runtime.generate_controlled(
        GenerateRequest(prompt, SamplingParams(max_tokens=8, temperature=0.9, seed=4), n=4,
                        token_ids_logprob=(free.token_ids[0],)),
        TokenControls(ebnf=grammar)))
    for completion in completions:
        assert completion.text in ("Yes.", "No."), completion.text
        # The chosen token's logprob is the model's own (before the mask), as is the free
        # greedy token's at the same position.
        first = completion.token_ids_logprobs[0][0][1]
        assert first == pytest.approx(free.logprobs[0], abs=1e-4)


def test_constrained_requests_through_both_apis(local_server: BackgroundServer,
                                                local_client: httpx.Client) -> None:
    response = local_client.post("/generate", json={
        "text": "Is 7 prime?", "sampling_params": {
            "n": 3, "max_new_tokens": 16, "temperature": 1.0, "sampling_seed": 9,
            "regex": REGEX}})
    assert response.status_code == 200, response.text
    for output in response.json():
        assert re.fullmatch(REGEX, output["text"]), output["text"]
    ebnf = local_client.post("/generate", json={
        "text": "Is 7 prime?", "sampling_params": {
            "max_new_tokens": 8, "temperature": 0, "ebnf": 'root ::= "yes" | "no"'}})
    assert ebnf.status_code == 200 and ebnf.json()["text"] in ("yes", "no")
    api = openai.OpenAI(base_url=local_server.url + "/v1", api_key="unused")
    chat = api.chat.completions.create(
        model="m", messages=QUESTION, max_tokens=48, temperature=0.8, seed=5, n=2,
        response_format={"type": "json_schema",
                         "json_schema": {"name": "verdict", "schema": SCHEMA}})
    for choice in chat.choices:
        check_schema(choice.message.content)
    bad = local_client.post("/generate", json={
        "text": "x", "sampling_params": {"regex": "(unclosed"}})
    assert bad.status_code == 400 and "regex" in bad.json()["error"]["message"]
    both = local_client.post("/generate", json={
        "text": "x", "sampling_params": {"regex": "a", "ebnf": 'root ::= "a"'}})
    assert both.status_code == 400
    assert both.json()["error"]["param"] == "sampling_params.ebnf"
