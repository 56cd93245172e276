"""sglang-router (cache_aware) over two ``ttc serve`` worker processes; one killed mid-run
is restarted and registered with the router again."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from recipe_helpers import CallCollector, host_with, recipe

from ttc.pipeline import Pipeline
from ttc.plugins.cluster import router_admin
from ttc.plugins.cluster.launcher import Cluster

pytest.importorskip("sglang_router")
pytestmark = [pytest.mark.model, pytest.mark.slow]

TASKS = [f"What is {a} + {b}? Answer with a number." for a, b in
         [(2, 3), (4, 1), (7, 2), (5, 5), (6, 3), (1, 8)]]


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    # One torch thread per worker: two workers share the machine's cores. Quick health
    # checks let the router drop a dead worker fast; the recipe's limits.retries (the one
    # retry layer) covers the meantime.
    with Cluster(workers=2, serve_args=["-o", "threads=1"], router_args=[
        "--health-check-interval-secs", "1", "--health-failure-threshold", "1",
    ]) as running:
        yield running


def router_recipe(url: str) -> str:
    """Retries come from the recipe's ``limits`` (the sglang runtime makes one attempt)."""
    return recipe(f"models:\n  m: {{runtime: sglang, options: {{url: '{url}'}}}}")


def test_recipe_through_router_survives_a_killed_worker(cluster: Cluster) -> None:
    first = Pipeline.from_text(router_recipe(cluster.url), host=host_with(CallCollector()))
    warm = first.run(TASKS[0])
    assert warm.status == "succeeded" and warm.answer is not None

    killed = threading.Event()

    def kill_one_worker() -> None:
        cluster.kill_worker(0)
        killed.set()

    collector = CallCollector(on_first_success=kill_one_worker)
    pipeline = Pipeline.from_text(router_recipe(cluster.url), host=host_with(collector))
    results = pipeline.run_batch(TASKS, concurrency=2)
    assert killed.is_set()
    assert [r.status for r in results] == ["succeeded"] * len(TASKS)
    # Every completed call is recorded exactly once: one success per run and stage.
    per_run = Counter((c.run_id, c.stage, c.kind) for c in collector.succeeded)
    assert len(per_run) == len(TASKS) and set(per_run.values()) == {1}
    assert all(len(c.response or ()) == 3 for c in collector.succeeded)
    assert len({c.id for c in collector.calls}) == len(collector.calls)
    # A failed attempt (if the router sent one to the dead worker) is recorded as a failure.
    assert all(c.error for c in collector.failed)
    # The killed worker was restarted and the router sends to it again.
    deadline = time.monotonic() + 300
    while cluster.restarts.get("worker-0", 0) < 1 or len(router_admin.list_workers(
            cluster.url) or []) < 2:
        assert time.monotonic() < deadline, "the killed worker did not come back"
        time.sleep(0.5)
    assert all(w["is_healthy"] for w in router_admin.list_workers(cluster.url) or [])
    assert Pipeline.from_text(router_recipe(cluster.url)).run(TASKS[1]).status == "succeeded"
