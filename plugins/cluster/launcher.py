"""Start ``ttc serve`` workers and an ``sglang-router`` over them, as child processes.

The router (SGLang's Rust router, PyPI ``sglang-router``) probes each worker's ``/health``,
``/get_server_info`` and ``/get_model_info`` at start, then forwards ``POST /generate``
unchanged, choosing a worker with its ``cache_aware`` policy (requests that share a prefix go
to the worker whose radix tree already holds it). The orchestrator talks to the router's URL
with the ``sglang`` runtime. Every wait here has a deadline.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx

logger = logging.getLogger(__name__)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    """Until ``url`` answers 200, the process dies, or the deadline passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with code {process.returncode}")
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise TimeoutError(f"{url} was not healthy within {timeout_s:.0f}s")


@dataclass
class Cluster:
    """``with Cluster(workers=2) as cluster: SGLangOptions(url=cluster.url)``."""

    workers: int = 2
    host: str = "127.0.0.1"
    port: int = 0
    """The router's port (0: a free one)."""
    worker_ports: Sequence[int] = ()
    """Worker ports (empty: free ones)."""
    serve_args: Sequence[str] = ()
    """Extra ``ttc serve`` arguments, e.g. ``("--runtime", "local", "-o", "threads=1")``."""
    policy: str = "cache_aware"
    router_args: Sequence[str] = ()
    log_dir: Path | None = None
    """Where worker and router output goes (default: discarded)."""
    startup_timeout_s: float = 300.0
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    worker_urls: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> Cluster:
        ports = list(self.worker_ports) or [free_port(self.host) for _ in range(self.workers)]
        self.port = self.port or free_port(self.host)
        try:
            for i, port in enumerate(ports):
                url = f"http://{self.host}:{port}"
                self.worker_urls.append(url)
                self.processes[f"worker-{i}"] = self._spawn(f"worker-{i}", [
                    sys.executable, "-m", "ttc", "serve", "--host", self.host, "--port",
                    str(port), "--log-level", "warning", *self.serve_args])
            for i, url in enumerate(self.worker_urls):
                wait_healthy(url + "/health", self.processes[f"worker-{i}"],
                             self.startup_timeout_s)
            self.processes["router"] = self._spawn("router", [
                sys.executable, "-m", "sglang_router.launch_router", "--host", self.host,
                "--port", str(self.port), "--policy", self.policy,
                "--worker-urls", *self.worker_urls, *self.router_args])
            wait_healthy(self.url + "/health", self.processes["router"], 60.0)
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, name: str, command: list[str]) -> subprocess.Popen[bytes]:
        logger.info("starting %s: %s", name, " ".join(command))
        output = subprocess.DEVNULL
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            output = (self.log_dir / f"{name}.log").open("wb")  # type: ignore[assignment]
        return subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT,
                                env={**os.environ}, start_new_session=True)

    def kill_worker(self, index: int) -> None:
        """SIGKILL one worker (for failure tests): no goodbye to the router."""
        process = self.processes[f"worker-{index}"]
        process.kill()
        process.wait(10)

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM every child (router first), then SIGKILL what is still alive."""
        names = sorted(self.processes, key=lambda n: n != "router")
        for name in names:
            process = self.processes[name]
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for name in names:
            process = self.processes[name]
            try:
                process.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        self.processes.clear()

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()
