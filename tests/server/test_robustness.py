"""200 mixed bad requests against one running server: it keeps answering, memory stays flat."""

from __future__ import annotations

import json
import random
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.server.conftest import scripted_runtime
from ttc.plugins.server.background import BackgroundServer


def rss_bytes() -> int:
    """The server's RSS: it runs in a thread of this process."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def bad_request(server: BackgroundServer, kind: int, rng: random.Random) -> str:
    url = server.url
    if kind == 0:  # malformed JSON
        body = b'{"text": "q", ' + bytes(rng.randrange(32, 127) for _ in range(20))
        return str(httpx.post(url + "/generate", content=body).status_code)
    if kind == 1:  # wrong types
        body = {"text": rng.choice([5, None, {"a": 1}, [1, "x"]]), "sampling_params": [7]}
        return str(httpx.post(url + "/generate", json=body).status_code)
    if kind == 2:  # huge n, negative temperature, absurd top-k logprobs
        params = rng.choice([{"n": 10**9}, {"temperature": -3}, {"max_new_tokens": -5}])
        return str(httpx.post(url + "/generate", json={"text": "q", "sampling_params": params})
                   .status_code)
    if kind == 3:  # the client gives up while the runtime is generating
        try:
            httpx.post(url + "/generate", json={"text": "q"}, timeout=0.05)
        except httpx.TimeoutException:
            return "timeout"
        return "answered"
    if kind == 4:  # the client disconnects halfway through sending its body
        with socket.create_connection((server.host, server.port), timeout=5) as sock:
            head = (
                "POST /generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                "Content-Length: 5000\r\n\r\n"
            )
            sock.sendall(head.encode() + json.dumps({"text": "q" * 50}).encode()[:30])
        return "dropped"
    body = {"messages": [{"role": "bogus", "content": 1}], "n": rng.choice([0, 10**6])}
    return str(httpx.post(url + "/v1/chat/completions", json=body).status_code)


def test_server_survives_200_bad_requests_with_bounded_memory() -> None:
    runtime = scripted_runtime(latency_s=0.1)
    with BackgroundServer(runtime) as server:
        for _ in range(5):  # warm-up: imports, first allocations
            httpx.post(server.url + "/generate", json={"text": "warm", "return_logprob": True})
        before = rss_bytes()
        rng = random.Random(0)
        kinds = [i % 6 for i in range(200)]
        rng.shuffle(kinds)
        with ThreadPoolExecutor(8) as pool:
            outcomes = list(pool.map(lambda k: bad_request(server, k, random.Random(k)), kinds))
        assert outcomes.count("400") == sum(1 for k in kinds if k in (0, 1, 2, 5))
        assert set(outcomes) <= {"400", "timeout", "answered", "dropped"}
        good = httpx.post(server.url + "/generate", json={"text": "alpha"}, timeout=10)
        assert good.status_code == 200 and good.json()["text"] == "a0"
        assert httpx.get(server.url + "/health").status_code == 200
        grown = rss_bytes() - before
        assert grown < 50 * 1024 * 1024, f"RSS grew by {grown / 2**20:.1f} MiB"
