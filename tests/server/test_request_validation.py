"""Every class of malformed request gets a 4xx whose message names the field, on every
endpoint that takes it (issue 13): wrong JSON types, lone surrogates, deep nesting, token ids
outside the vocabulary, oversized bodies and prompts."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import httpx
import pytest

from tests.server.conftest import DetokenizingScripted, scripted_runtime
from ttc.plugins.server.background import BackgroundServer
from ttc.plugins.server.json_body import MAX_BODY_BYTES, MAX_JSON_DEPTH

GENERATE, COMPLETIONS, CHAT = "/generate", "/v1/completions", "/v1/chat/completions"
USER = [{"role": "user", "content": "hi"}]


class CountingTokenizer(DetokenizingScripted):
    """At most 8 characters per token, so ``4096 × 8`` characters cannot fit; counts the
    texts it was asked to tokenise."""

    max_token_chars = 8

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.tokenized: list[int] = []

    async def tokenize(self, text: str) -> list[int]:
        self.tokenized.append(len(text))
        return await super().tokenize(text)


@pytest.fixture(scope="module")
def runtime() -> CountingTokenizer:
    return scripted_runtime(CountingTokenizer)


@pytest.fixture(scope="module")
def server(runtime: CountingTokenizer) -> Iterator[BackgroundServer]:
    with BackgroundServer(runtime) as running:
        yield running


@pytest.fixture
def http(server: BackgroundServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def refused(http: httpx.Client, path: str, body: bytes | dict, status: int = 400) -> dict:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = http.post(path, content=content, headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == status and error["message"]
    return error


STRICT_TYPES = [
    (GENERATE, {"text": "q", "sampling_params": {"n": "5"}}, "sampling_params.n"),
    (GENERATE, {"text": "q", "sampling_params": {"n": True}}, "sampling_params.n"),
    (GENERATE, {"text": "q", "sampling_params": {"n": 2.0}}, "sampling_params.n"),
    (GENERATE, {"text": "q", "sampling_params": {"max_new_tokens": "10"}},
     "sampling_params.max_new_tokens"),
    (GENERATE, {"text": "q", "sampling_params": {"temperature": "0.5"}},
     "sampling_params.temperature"),
    (GENERATE, {"text": "q", "sampling_params": {"temperature": False}},
     "sampling_params.temperature"),
    (GENERATE, {"text": "q", "return_logprob": 1}, "return_logprob"),
    (GENERATE, {"text": "q", "top_logprobs_num": "3", "return_logprob": True},
     "top_logprobs_num"),
    (GENERATE, {"input_ids": [1, True]}, "input_ids"),
    (GENERATE, {"text": ["a", 5]}, "text"),
    (COMPLETIONS, {"prompt": "q", "n": "2"}, "n"),
    (COMPLETIONS, {"prompt": "q", "n": True}, "n"),
    (COMPLETIONS, {"prompt": "q", "max_tokens": "10"}, "max_tokens"),
    (COMPLETIONS, {"prompt": "q", "logprobs": True}, "logprobs"),
    (COMPLETIONS, {"prompt": "q", "seed": "7"}, "seed"),
    (CHAT, {"messages": USER, "n": "3"}, "n"),
    (CHAT, {"messages": USER, "logprobs": "yes"}, "logprobs"),
    (CHAT, {"messages": USER, "logprobs": True, "top_logprobs": "2"}, "top_logprobs"),
    (CHAT, {"messages": USER, "max_tokens": 1.5}, "max_tokens"),
    (CHAT, {"messages": [{"role": "user", "content": 5}]}, "messages.0.content"),
]


@pytest.mark.parametrize(("path", "body", "field"), STRICT_TYPES)
def test_a_value_of_the_wrong_json_type_is_refused_naming_its_field(
    http: httpx.Client, path: str, body: dict, field: str
) -> None:
    error = refused(http, path, body)
    assert error["param"].startswith(field)
    assert f"{field}" in error["message"] and ": Input should be" in error["message"]


def test_numbers_that_are_numbers_still_pass(http: httpx.Client) -> None:
    """Strictness refuses strings and booleans, not an integer where a float is wanted."""
    ok = http.post(GENERATE, json={"text": "alpha", "sampling_params": {
        "temperature": 0, "top_p": 1, "max_new_tokens": 4}})
    assert ok.status_code == 200, ok.text


SURROGATES = [
    (GENERATE, b'{"text": "a\\ud800b"}', "text"),
    (GENERATE, b'{"text": ["ok", "\\udfff"]}', "text.1"),
    (GENERATE, b'{"text": "q", "sampling_params": {"stop": ["\\ud834"]}}',
     "sampling_params.stop.0"),
    (COMPLETIONS, b'{"prompt": "\\ud83d"}', "prompt"),
    (CHAT, b'{"messages": [{"role": "user", "content": "x\\udc00"}]}', "messages.0.content"),
    (CHAT, b'{"messages": [{"role": "user", "content": "hi", "n\\ud800": 1}]}',
     "messages.0.n\\ud800"),
]


@pytest.mark.parametrize(("path", "body", "field"), SURROGATES)
def test_a_lone_surrogate_is_refused_naming_where_it_is(
    http: httpx.Client, path: str, body: bytes, field: str
) -> None:
    error = refused(http, path, body)
    assert error["message"].startswith(f"{field}: ")
    assert "lone surrogate" in error["message"]


def test_a_surrogate_pair_is_a_valid_character(http: httpx.Client) -> None:
    ok = http.post(GENERATE, content=b'{"text": "alpha \\ud83d\\ude00"}',
                   headers={"content-type": "application/json"})
    assert ok.status_code == 200, ok.text


@pytest.mark.parametrize("path", [GENERATE, COMPLETIONS, CHAT])
@pytest.mark.parametrize("body", [
    b"[" * 50_000 + b"]" * 50_000,
    b'{"text": ' + b"[" * 50_000,
    b'{"messages": [{"role": "user", "content": "' + b"[" * 5000 + b'"}], "x": '
    + b"{\"a\": " * 40 + b"1" + b"}" * 40 + b"}",
])
def test_deep_nesting_is_refused_before_parsing(http: httpx.Client, path: str,
                                                body: bytes) -> None:
    error = refused(http, path, body)
    assert f"nests deeper than {MAX_JSON_DEPTH} levels" in error["message"]


def test_brackets_inside_strings_are_not_nesting(http: httpx.Client) -> None:
    ok = http.post(GENERATE, json={"text": "alpha " + "[{" * 500})
    assert ok.status_code == 200, ok.text


OUT_OF_VOCABULARY = [  # the scripted vocabulary is [0, 512)
    (GENERATE, {"input_ids": [1, 512]}, "input_ids"),
    (GENERATE, {"input_ids": [[1], [-1]]}, "input_ids"),
    (GENERATE, {"input_ids": [10**30]}, "input_ids"),
    (GENERATE, {"text": "q", "token_ids_logprob": [7, 512]}, "token_ids_logprob"),
    (GENERATE, {"text": "q", "return_logprob": True, "token_ids_logprob": [10**30]},
     "token_ids_logprob"),
    (COMPLETIONS, {"prompt": [1, 512]}, "prompt"),
    (COMPLETIONS, {"prompt": [[1], [-5]]}, "prompt"),
    (COMPLETIONS, {"prompt": [10**30]}, "prompt"),
]


@pytest.mark.parametrize(("path", "body", "field"), OUT_OF_VOCABULARY)
def test_token_ids_outside_the_vocabulary_are_refused_on_every_endpoint(
    http: httpx.Client, path: str, body: dict, field: str
) -> None:
    error = refused(http, path, body)
    assert error["param"] == field
    assert error["message"].startswith(f"{field} must be token ids in [0, 511]")


def test_too_many_stop_strings_and_token_ids(http: httpx.Client) -> None:
    error = refused(http, GENERATE, {"text": "q", "sampling_params": {"stop": ["x"] * 65}})
    assert "sampling_params.stop holds at most 64" in error["message"]
    error = refused(http, GENERATE, {"text": "q", "token_ids_logprob": [1] * 1025})
    assert "token_ids_logprob holds at most 1024" in error["message"]


def test_a_body_over_the_limit_is_413_by_its_declared_length(server: BackgroundServer) -> None:
    """Refused from the header alone: nothing of the body is read."""
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(f"POST {GENERATE} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                     f"\r\nContent-Length: {MAX_BODY_BYTES + 1}\r\n\r\n{{".encode())
        answer = b""
        while b"larger than" not in answer and (part := sock.recv(65536)):
            answer += part
    assert answer.startswith(b"HTTP/1.1 413")
    assert b"larger than" in answer


def test_a_chunked_body_over_the_limit_is_413(server: BackgroundServer) -> None:
    def parts() -> Iterator[bytes]:
        yield b'{"text": "'
        for _ in range(MAX_BODY_BYTES // (1 << 20) + 1):
            yield b"a" * (1 << 20)

    response = httpx.post(server.url + GENERATE, content=parts(), timeout=60)
    assert response.status_code == 413


@pytest.mark.parametrize(("path", "body", "field"), [
    (GENERATE, {"text": "w" * (4096 * 8 + 1)}, "text"),
    (GENERATE, {"text": ["ok", "w" * (4096 * 8 + 1)]}, "text"),
    (COMPLETIONS, {"prompt": "w" * (4096 * 8 + 1)}, "prompt"),
    (CHAT, {"messages": [{"role": "user", "content": "w" * (4096 * 8 + 1)}]}, "messages"),
])
def test_a_prompt_too_long_to_fit_is_refused_without_tokenising_it(
    http: httpx.Client, runtime: CountingTokenizer, path: str, body: dict, field: str
) -> None:
    runtime.tokenized.clear()
    error = refused(http, path, body)
    assert error["param"] == field
    assert "characters) is longer than the model's context length (4096 tokens)" in (
        error["message"])
    assert not [n for n in runtime.tokenized if n > 4096 * 8]


def test_a_token_id_prompt_longer_than_the_context_is_refused(http: httpx.Client) -> None:
    for path, body in [(GENERATE, {"input_ids": [1] * 4096}),
                       (COMPLETIONS, {"prompt": [1] * 4096})]:
        error = refused(http, path, body)
        assert "longer than the model's context length (4096 tokens)" in error["message"]
