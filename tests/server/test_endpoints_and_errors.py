"""Info endpoints, error answers and cancellation, over the scripted runtime."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.server.conftest import scripted_runtime
from ttc.plugins.runtimes.scripted import ScriptedRuntime
from ttc.plugins.server.background import BackgroundServer
from ttc.runtime import GenerateRequest, RequestError


def test_health_endpoints(client: httpx.Client) -> None:
    assert client.get("/health").status_code == 200
    assert client.get("/health_generate").status_code == 200


@pytest.mark.parametrize("path", ["/model_info", "/get_model_info"])
def test_model_info_has_the_keys_sglang_router_reads(client: httpx.Client, path: str) -> None:
    info = client.get(path).json()
    assert info["model_path"] == "scripted-model"
    assert info["tokenizer_path"] == "scripted-model"
    assert info["is_generation"] is True
    assert info["context_length"] == 4096


@pytest.mark.parametrize("path", ["/server_info", "/get_server_info"])
def test_server_info_has_the_keys_sglang_router_reads(client: httpx.Client, path: str) -> None:
    info = client.get(path).json()
    assert info["model_path"] == "scripted-model"
    assert info["dp_size"] == 1
    for key in ("max_total_tokens", "max_prefill_tokens", "max_running_requests"):
        assert isinstance(info[key], int) and info[key] > 0
    assert isinstance(info["version"], str)


def test_flush_cache_answers_even_without_a_cache(client: httpx.Client) -> None:
    for method in ("GET", "POST"):
        response = client.request(method, "/flush_cache")
        assert response.status_code == 200
        assert "no prefix cache" in response.text


def test_unknown_route_uses_the_error_envelope(client: httpx.Client) -> None:
    response = client.get("/nope")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == 404


BAD_GENERATE = [
    (b"{not json", "malformed JSON"),
    (b"", "empty"),
    (b"[1, 2]", "JSON object"),
    (b'{"text": 5}', "text"),
    (b'{"text": "q", "sampling_params": 3}', "sampling_params"),
    (b'{"text": "q", "sampling_params": {"bogus": 1}}', "sampling_params.bogus"),
    (b'{"text": "q", "sampling_params": {"n": 0}}', "n must be between 1 and 16"),
    (b'{"text": "q", "sampling_params": {"n": 1000000000}}', "n must be between"),
    (b'{"text": "q", "sampling_params": {"temperature": -1}}', "temperature must be"),
    (b'{"text": "q", "sampling_params": {"top_p": 0}}', "top_p must be in (0, 1]"),
    (b'{"text": "q", "sampling_params": {"top_k": 0}}', "top_k must be -1"),
    (b'{"text": "q", "sampling_params": {"max_new_tokens": -1}}', "max_new_tokens must be"),
    (b'{"text": "q", "sampling_params": {"max_new_tokens": "lots"}}', "max_new_tokens"),
    (b'{"text": "q", "sampling_params": {"frequency_penalty": 0.5}}', "not supported"),
    (b'{"text": "q", "input_ids": [1]}', "not both"),
    (b'{"sampling_params": {}}', "Either text"),
    (b'{"text": []}', "empty"),
    (b'{"text": "q", "return_logprob": true, "top_logprobs_num": 1000000}', "top_logprobs_num"),
    (b'{"text": "q", "return_logprob": true, "token_ids_logprob": [99999]}', "token ids in"),
    (
        b'{"text": "a b", "return_logprob": true, "logprob_start_len": 5}',
        "logprob_start_len (5)",
    ),
    (b'{"text": ["a", "b"], "return_logprob": [true]}', "1 entries for a batch of 2"),
    (b'{"text": "q", "image_data": "x.png"}', "image_data"),
]


@pytest.mark.parametrize(("body", "message"), BAD_GENERATE)
def test_bad_generate_requests_get_400_with_a_clear_message(
    client: httpx.Client, body: bytes, message: str
) -> None:
    response = client.post("/generate", content=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert message in error["message"]
    assert error["code"] == 400


def test_prompt_longer_than_the_context_is_400(client: httpx.Client) -> None:
    response = client.post("/generate", json={"text": "w " * 5000})
    assert response.status_code == 400
    assert "longer than the model's context length (4096" in response.json()["error"]["message"]
    too_much = {"text": "w " * 4000, "sampling_params": {"max_new_tokens": 200}}
    response = client.post("/generate", json=too_much)
    assert response.status_code == 400
    assert "exceeds the model's maximum context length" in response.json()["error"]["message"]


class RefusingRuntime(ScriptedRuntime):
    async def generate(self, request: GenerateRequest):
        raise RequestError("prompt contains a forbidden word")


def test_runtime_errors_map_to_400_and_503() -> None:
    with BackgroundServer(scripted_runtime(RefusingRuntime)) as server:
        response = httpx.post(server.url + "/generate", json={"text": "q"})
        assert response.status_code == 400
        assert response.json()["error"]["message"] == "prompt contains a forbidden word"
        assert httpx.get(server.url + "/health_generate").status_code == 503
    with BackgroundServer(scripted_runtime(fail_first=1)) as server:
        response = httpx.post(server.url + "/generate", json={"text": "q"})
        assert response.status_code == 503
        assert "scripted failure" in response.json()["error"]["message"]
        assert httpx.post(server.url + "/generate", json={"text": "q"}).status_code == 200


class SlowRuntime(ScriptedRuntime):
    """Generation takes seconds; records whether the server cancelled it."""

    started = 0
    cancelled = 0

    async def generate(self, request: GenerateRequest):
        type(self).started += 1
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            type(self).cancelled += 1
            raise
        return await super().generate(request)


def test_client_disconnect_cancels_the_runtime_call() -> None:
    with BackgroundServer(scripted_runtime(SlowRuntime)) as server:
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(server.url + "/generate", json={"text": "q"}, timeout=0.5)
        deadline = time.monotonic() + 3
        while SlowRuntime.cancelled < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert SlowRuntime.started == 1
        assert SlowRuntime.cancelled == 1
        assert httpx.get(server.url + "/health").status_code == 200
