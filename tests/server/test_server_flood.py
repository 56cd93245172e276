"""A flood of hostile requests and one abandoned long prefill against the real model: every
bad request is refused with a 4xx, the server stays healthy, a normal request keeps its
latency, the abandoned prefill stops, and memory stays bounded (issue 13)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.server.flood_client import HANG_UPS, bad_request
from ttc.plugins.server.background import BackgroundServer

pytestmark = [pytest.mark.model, pytest.mark.slow]

NORMAL = {"text": "Count from one to fifty: one, two, three,",
          "sampling_params": {"max_new_tokens": 24, "temperature": 0}}
REQUESTS = 312
REFUSED = {"400", "413"}
FLOOD_CLIENT = Path(__file__).with_name("flood_client.py")


def rss_bytes() -> int:
    """This process's RSS: the server runs in one of its threads."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def timed_normal(http: httpx.Client, expected: list[int] | None = None) -> float:
    start = time.perf_counter()
    response = http.post("/generate", json=NORMAL)
    elapsed = time.perf_counter() - start
    assert response.status_code == 200, response.text
    if expected is not None:
        assert response.json()["output_ids"] == expected
    return elapsed


def give_up(url: str, text: str, gave_up: list[bool]) -> None:
    """Send a long prompt and stop waiting after 1 s (its prefill, in 32-token chunks, takes
    several times longer whatever the engine's thread count)."""
    try:
        httpx.post(url + "/generate", timeout=1.0,
                   json={"text": text, "sampling_params": {"max_new_tokens": 4}})
    except httpx.ReadTimeout:
        gave_up.append(True)
    else:
        gave_up.append(False)


@pytest.fixture
def small_chunks(local_runtime) -> Iterator[None]:
    """32-token prefill chunks: ~190 passes for the abandoned prompt, whatever the threads."""
    engine = local_runtime.engine
    chunk = engine.prefill_chunk
    engine.prefill_chunk = 32
    yield
    engine.prefill_chunk = chunk


def test_a_flood_of_bad_requests_and_an_abandoned_prefill(local_server: BackgroundServer,
                                                          local_runtime, small_chunks) -> None:
    engine = local_runtime.engine
    url = local_server.url
    with httpx.Client(base_url=url, timeout=300) as http:
        assert http.post("/flush_cache").status_code == 200  # no other test's long prompt
        expected = http.post("/generate", json=NORMAL).json()["output_ids"]  # warm, cached
        for kind in (1, 5, 11):  # warm-up: first allocations of big bodies
            bad_request(url, kind, random.Random(kind))
        alone = min(timed_normal(http, expected) for _ in range(2))
        before = rss_bytes()
        cancelled = engine.prefills_cancelled

        # Its own words: test_prefill_cancellation's long prompts are this pattern's prefixes,
        # and a cached prefix would shorten the prefill below the client's patience.
        long_text = " ".join(f"crate{i % 83} weighs {i % 9} kilos." for i in range(750))
        gave_up: list[bool] = []
        abandoned = threading.Thread(target=give_up, args=(url, long_text, gave_up))
        abandoned.start()
        flood = subprocess.Popen([sys.executable, str(FLOOD_CLIENT), url, str(REQUESTS)],
                                 stdout=subprocess.PIPE, text=True)
        time.sleep(1.0)  # the flood is under way
        during = timed_normal(http, expected)
        results = json.loads(flood.communicate(timeout=600)[0])
        abandoned.join()
        assert gave_up == [True]
        after = timed_normal(http, expected)
        assert http.get("/health").status_code == 200
        assert http.get("/health_generate").status_code == 200
        assert http.post("/flush_cache").status_code == 200

    counts = Counter((kind, outcome) for kind, outcome in results)
    assert len(results) == REQUESTS
    assert all(outcome in REFUSED for kind, outcome in results if kind not in HANG_UPS), counts
    assert {outcome for kind, outcome in results if kind in HANG_UPS} <= {
        "dropped", "gave up", "answered"}, counts
    # The abandoned prefill stopped: nothing of it is queued or running any more.
    assert engine.prefills_cancelled > cancelled
    assert engine.pending_prefills == 0 and engine.active_rows == 0
    # A normal request keeps its latency during the flood and after it.
    assert during < 5 * alone, (during, alone)
    assert after < 5 * alone, (after, alone)
    grown = rss_bytes() - before
    assert grown < 300 * 2**20, f"RSS grew by {grown / 2**20:.0f} MiB"
