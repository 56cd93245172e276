"""sglang-router's worker management API: take a worker out of rotation, put it back.

The router (``sglang-router`` ≥ 0.3, the Rust "model gateway") lists its workers at
``GET /workers`` (``{"workers": [{"id", "url", "is_healthy", …}]}``), removes one with
``DELETE /workers/{id}`` and adds one with ``POST /workers {"url": …}``; both answer 202 and
act in the background. Older routers had ``POST /remove_worker?url=`` and
``POST /add_worker?url=``; those are the fallback when ``/workers`` is missing.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx

logger = logging.getLogger(__name__)

TIMEOUT_S = 10.0


def list_workers(router_url: str) -> list[dict[str, Any]] | None:
    """The router's workers, or None when it has no ``/workers`` API."""
    response = httpx.get(f"{router_url}/workers", timeout=TIMEOUT_S)
    if response.status_code == 404:
        return None
    response.raise_for_status()
    return list(response.json().get("workers", []))


def remove_worker(router_url: str, worker_url: str) -> None:
    """Stop routing to ``worker_url`` (no error if the router does not know it)."""
    workers = list_workers(router_url)
    if workers is None:
        httpx.post(f"{router_url}/remove_worker", params={"url": worker_url}, timeout=TIMEOUT_S)
        return
    for worker in workers:
        if worker.get("url") == worker_url:
            httpx.delete(f"{router_url}/workers/{worker['id']}", timeout=TIMEOUT_S)


def add_worker(router_url: str, worker_url: str, timeout_s: float = 60.0) -> None:
    """Route to ``worker_url`` again, and wait until the router lists it as healthy."""
    workers = list_workers(router_url)
    if workers is None:
        response = httpx.post(f"{router_url}/add_worker", params={"url": worker_url},
                              timeout=timeout_s)
        response.raise_for_status()
        return
    if not any(w.get("url") == worker_url for w in workers):
        response = httpx.post(f"{router_url}/workers", json={"url": worker_url},
                              timeout=TIMEOUT_S)
        response.raise_for_status()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        listed = [w for w in list_workers(router_url) or [] if w.get("url") == worker_url]
        if listed and listed[0].get("is_healthy", True):
            return
        time.sleep(0.25)
    raise TimeoutError(f"the router did not list {worker_url} as healthy within {timeout_s:.0f}s")
