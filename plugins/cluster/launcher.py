"""Start ``ttc serve`` workers and an ``sglang-router`` over them, as supervised children.

The router (SGLang's Rust router, PyPI ``sglang-router``) probes each worker's ``/health``,
``/get_server_info`` and ``/get_model_info`` at start, then forwards ``POST /generate``
unchanged, choosing a worker with its ``cache_aware`` policy (requests that share a prefix go
to the worker whose radix tree already holds it). The orchestrator talks to the router's URL
with the ``sglang`` runtime.

A supervisor thread watches the children. A worker that exits is taken out of the router's
rotation at once (its health checks would take seconds to notice, and ``cache_aware`` keeps
sending a prefix to the same dead worker meanwhile), restarted on its port, and added back
once healthy; a router that exits is restarted over the same workers. A child that keeps
dying is restarted after a growing pause (1 s, 2 s, … 30 s). Every wait has a deadline.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO

import httpx

from ttc.plugins.cluster import router_admin

logger = logging.getLogger(__name__)

ROUTER_HEALTH_ARGS = ("--health-check-interval-secs", "5", "--health-failure-threshold", "2")
"""Unless ``router_args`` say otherwise: a hung worker leaves rotation within ~10 s (the
router's default, 60 s × 3, kept sending it requests for three minutes)."""
STABLE_AFTER_S = 30.0
"""A restarted child that lives this long is well again: its next restart is immediate."""
MAX_BACKOFF_S = 30.0


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout_s: float,
                 stop: threading.Event | None = None) -> None:
    """Until ``url`` answers 200, the process dies, ``stop`` is set, or the deadline passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with code {process.returncode}")
        if stop is not None and stop.is_set():
            raise RuntimeError(f"{url}: stopped while waiting for it")
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise TimeoutError(f"{url} was not healthy within {timeout_s:.0f}s")


@dataclass
class _Child:
    process: subprocess.Popen[bytes]
    started: float = field(default_factory=time.monotonic)
    failures: int = 0
    """Exits in a row, each within ``STABLE_AFTER_S`` of its start."""


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
    supervise: bool = True
    """Restart children that exit (and re-register restarted workers with the router)."""
    worker_urls: list[str] = field(default_factory=list)
    restarts: dict[str, int] = field(default_factory=dict)
    """How many times each child was restarted."""
    _children: dict[str, _Child] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _stopping: threading.Event = field(default_factory=threading.Event, init=False,
                                       repr=False)
    _supervisor: threading.Thread | None = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def processes(self) -> dict[str, subprocess.Popen[bytes]]:
        """The current process of each child (a restart replaces it)."""
        with self._lock:
            return {name: child.process for name, child in self._children.items()}

    def start(self) -> Cluster:
        ports = list(self.worker_ports) or [free_port(self.host) for _ in range(self.workers)]
        self.port = self.port or free_port(self.host)
        self._stopping.clear()
        try:
            for i, port in enumerate(ports):
                self.worker_urls.append(f"http://{self.host}:{port}")
                self._spawn(f"worker-{i}")
            for i, url in enumerate(self.worker_urls):
                wait_healthy(url + "/health", self.processes[f"worker-{i}"],
                             self.startup_timeout_s)
            self._spawn("router")
            wait_healthy(self.url + "/health", self.processes["router"], 60.0)
        except BaseException:
            self.stop()
            raise
        if self.supervise:
            self._supervisor = threading.Thread(target=self._watch, name="ttc-cluster-watch",
                                                daemon=True)
            self._supervisor.start()
        return self

    def _command(self, name: str) -> list[str]:
        if name == "router":
            given = " ".join(self.router_args)
            health = () if "--health-" in given else ROUTER_HEALTH_ARGS
            # Its metrics exporter binds 0.0.0.0:29000 by default: a second cluster on the
            # machine (or a test's) would panic at start.
            metrics = () if "--prometheus-" in given else (
                "--prometheus-host", self.host, "--prometheus-port", str(free_port(self.host)))
            return [sys.executable, "-m", "sglang_router.launch_router", "--host", self.host,
                    "--port", str(self.port), "--policy", self.policy,
                    "--worker-urls", *self.worker_urls, *health, *metrics, *self.router_args]
        url = self.worker_urls[int(name.removeprefix("worker-"))]
        return [sys.executable, "-m", "ttc", "serve", "--host", self.host, "--port",
                url.rsplit(":", 1)[1], "--log-level", "warning", *self.serve_args]

    def _spawn(self, name: str) -> subprocess.Popen[bytes]:
        command = self._command(name)
        logger.info("starting %s: %s", name, " ".join(command))
        output: int | IO[bytes] = subprocess.DEVNULL
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            output = (self.log_dir / f"{name}.log").open("ab")
        with self._lock:
            if self._stopping.is_set():
                raise RuntimeError(f"not starting {name}: the cluster is stopping")
            process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT,
                                       env={**os.environ}, start_new_session=True)
            previous = self._children.get(name)
            self._children[name] = _Child(process, failures=previous.failures if previous
                                          else 0)
        return process

    # --- supervision (its own thread) ----------------------------------------------------

    def _watch(self) -> None:
        while not self._stopping.wait(0.5):
            with self._lock:
                children = list(self._children.items())
            for name, child in children:
                if child.process.poll() is None or self._stopping.is_set():
                    continue
                try:
                    self._restart(name, child)
                except Exception as error:  # tried again on the next turn, after a pause
                    if not self._stopping.is_set():
                        logger.error("restarting %s failed: %s", name, error)

    def _restart(self, name: str, child: _Child) -> None:
        code = child.process.returncode
        if time.monotonic() - child.started < STABLE_AFTER_S:
            child.failures += 1
        else:
            child.failures = 0
        pause = min(MAX_BACKOFF_S, 2.0 ** (child.failures - 1)) if child.failures else 0.0
        logger.warning("%s exited with code %s; restarting it%s", name, code,
                       f" in {pause:.0f}s" if pause else "")
        worker_url = None if name == "router" else self._worker_url(name)
        if worker_url is not None:
            self._router_call(router_admin.remove_worker, worker_url)
        if self._stopping.wait(pause):
            return
        child.started = time.monotonic()  # a failed start counts as a quick exit
        process = self._spawn(name)
        if worker_url is None:
            wait_healthy(self.url + "/health", process, 60.0, self._stopping)
        else:
            wait_healthy(worker_url + "/health", process, self.startup_timeout_s,
                         self._stopping)
            self._router_call(router_admin.add_worker, worker_url)
        self.restarts[name] = self.restarts.get(name, 0) + 1
        logger.warning("%s is back (restart %d)", name, self.restarts[name])

    def _worker_url(self, name: str) -> str:
        return self.worker_urls[int(name.removeprefix("worker-"))]

    def _router_call(self, call: Callable[[str, str], None], worker_url: str) -> None:
        """A router admin call; a router that is down or restarting knows no workers anyway
        (it is restarted with every worker's URL)."""
        try:
            call(self.url, worker_url)
        except (httpx.HTTPError, TimeoutError) as error:
            logger.warning("router call for %s failed: %s", worker_url, error)

    # --- for tests and shutdown ------------------------------------------------------------

    def kill_worker(self, index: int) -> None:
        """SIGKILL one worker (for failure tests): no goodbye to the router."""
        process = self.processes[f"worker-{index}"]
        process.kill()
        process.wait(10)

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop supervising, then SIGTERM every child (router first), SIGKILL what is left."""
        self._stopping.set()
        if self._supervisor is not None and self._supervisor is not threading.current_thread():
            self._supervisor.join(timeout_s + 5)
        with self._lock:
            children = dict(self._children)
            self._children.clear()
        names = sorted(children, key=lambda n: n != "router")
        for name in names:
            if children[name].process.poll() is None:
                children[name].process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for name in names:
            process = children[name].process
            try:
                process.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()
