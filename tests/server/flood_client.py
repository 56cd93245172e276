"""The hostile clients of ``test_server_flood.py``, run as their own low-priority process.

Clients live elsewhere in production; on a 2-core test machine their own CPU use (building
5 MB bodies, eight threads, in the server's process also its GIL) is what slowed the server's
engine thread, not the server's work. So they run in a separate process at nice 15.
``python flood_client.py URL COUNT`` prints ``[[kind, outcome], ...]``.
"""

from __future__ import annotations

import json
import os
import random
import socket
import sys
from concurrent.futures import ThreadPoolExecutor

import httpx

KINDS = 12
"""Request kinds 7 and 8 hang up half-way and 9 gives up while generating; every other kind
must be refused with 400 or 413."""
HANG_UPS = (7, 8, 9)


def post(url: str, path: str, body: bytes | dict, timeout: float = 60) -> str:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = httpx.post(url + path, content=content, timeout=timeout,
                          headers={"content-type": "application/json"})
    if response.status_code in (400, 413):
        assert response.json()["error"]["message"]
    return str(response.status_code)


def raw(host: str, port: int, data: bytes) -> str:
    """Send ``data`` and hang up: a half-open request."""
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(data)
    return "dropped"


def oversized(host: str, port: int, data: bytes) -> str:
    """Send the start of a request and read the status line the server answers with."""
    with socket.create_connection((host, port), timeout=30) as sock:
        sock.sendall(data)
        return sock.recv(65536).split(b" ", 2)[1].decode()


def bad_request(url: str, kind: int, rng: random.Random) -> str:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    head = "POST /generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    match kind:
        case 0:  # malformed JSON
            return post(url, "/generate", b'{"text": "q", ' + rng.randbytes(20))
        case 1:  # nested 50,000 deep
            return post(url, rng.choice(["/generate", "/v1/completions"]),
                        b'{"text": ' + b"[" * 50_000 + b"]" * 50_000 + b"}")
        case 2:  # lone surrogates
            return post(url, *rng.choice([
                ("/generate", b'{"text": "a\\ud800b"}'),
                ("/v1/chat/completions", b'{"messages": [{"role": "user", "content": '
                                         b'"\\udfff"}]}')]))
        case 3:  # a string or a boolean for a number
            return post(url, *rng.choice([
                ("/generate", {"text": "q", "sampling_params": {"n": "5"}}),
                ("/generate", {"text": "q", "sampling_params": {"max_new_tokens": "10"}}),
                ("/v1/completions", {"prompt": "q", "n": True})]))
        case 4:  # token ids outside the vocabulary
            return post(url, *rng.choice([
                ("/generate", {"input_ids": [1, 49152]}),
                ("/v1/completions", {"prompt": [[5], [-1]]}),
                ("/generate", {"text": "q", "token_ids_logprob": [10**30]})]))
        case 5:  # a 5 MB prompt
            return post(url, "/generate", {"text": "lorem " * 870_000})
        case 6:  # too many stop strings, token ids, samples; bad values
            return post(url, "/generate", rng.choice([
                {"text": "q", "sampling_params": {"stop": ["x"] * 1000}},
                {"text": "q", "sampling_params": {"n": 10**9}},
                {"text": "q", "sampling_params": {"temperature": -3}},
                {"text": "q", "sampling_params": {"top_k": 10**30, "max_new_tokens": 1}}]))
        case 7:  # half-open: a request head cut off
            return raw(host, int(port), (head + "Content-Len").encode())
        case 8:  # half-open: a body cut off
            cut = (head + "Content-Length: 5000\r\n\r\n").encode() + b'{"text"'
            return raw(host, int(port), cut)
        case 9:  # the client gives up while its request is generating
            try:
                httpx.post(url + "/generate", timeout=0.2, json={
                    "text": f"Story {rng.random()}:", "sampling_params": {"max_new_tokens": 64}})
            except httpx.TimeoutException:
                return "gave up"
            return "answered"
        case 10:  # OpenAI chat with a bad role and an absurd n
            return post(url, "/v1/chat/completions", {
                "messages": [{"role": "bogus", "content": "x"}], "n": 10**6})
        case _:  # an oversized body: refused from its declared length, the rest never sent
            return oversized(host, int(port), (head + "Content-Length: 40000000\r\n\r\n{").encode())


def flood(url: str, count: int, seed: int = 0) -> list[tuple[int, str]]:
    kinds = [i % KINDS for i in range(count)]
    random.Random(seed).shuffle(kinds)
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda k: bad_request(url, k, random.Random(k)), kinds))
    return list(zip(kinds, outcomes, strict=True))


if __name__ == "__main__":
    os.nice(15)
    print(json.dumps(flood(sys.argv[1], int(sys.argv[2]))))
