"""``ttc serve-cluster`` keeps serving when a worker or the router dies, and stops every child
when it is asked to (issue 13). Scripted workers: no model, seconds to start."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from ttc.plugins.cluster.launcher import free_port

pytest.importorskip("sglang_router")
pytestmark = pytest.mark.slow


def two_free_ports(avoid: int) -> int:
    """A port ``p`` such that ``p`` and ``p + 1`` are free (``--worker-port`` takes both)."""
    while True:
        port = free_port()
        if avoid in (port, port + 1):
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port


def children(pid: int) -> dict[int, str]:
    """The child processes of ``pid`` and their command lines (Linux ``/proc``)."""
    found = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
            found[int(child)] = cmdline.decode(errors="replace")
    return found


def child_on(pid: int, marker: str) -> int:
    return next(child for child, command in children(pid).items() if marker in command)


def wait_for(condition, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if condition():
                return
        except (httpx.HTTPError, OSError, StopIteration):
            pass
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def generate(url: str, text: str) -> httpx.Response:
    return httpx.post(url + "/generate", json={"text": text}, timeout=10)


def healthy_workers(url: str) -> set[str]:
    workers = httpx.get(url + "/workers", timeout=5).json()["workers"]
    return {w["url"] for w in workers if w["is_healthy"]}


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_a_killed_worker_and_router_are_replaced_and_sigterm_stops_everything(
        tmp_path: Path) -> None:
    port = free_port()
    first = two_free_ports(avoid=port)
    worker_urls = {f"http://127.0.0.1:{first}", f"http://127.0.0.1:{first + 1}"}
    url = f"http://127.0.0.1:{port}"
    command = subprocess.Popen(
        [sys.executable, "-m", "ttc", "serve-cluster", "--workers", "2", "--runtime",
         "scripted", "-o", 'responses=["42"]', "--port", str(port), "--worker-port",
         str(first), "--log-dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: healthy_workers(url) == worker_urls, 120)
        assert generate(url, "warm").json()["text"] == "42"

        # A worker killed without a goodbye: the others keep answering, it comes back.
        killed = child_on(command.pid, f"--port {first} ")
        subprocess.run(["kill", "-9", str(killed)], check=True)
        time.sleep(1.0)  # the supervisor's poll and the router's removal
        answers = [generate(url, f"question {i}") for i in range(20)]
        assert [a.status_code for a in answers] == [200] * 20
        wait_for(lambda: child_on(command.pid, f"--port {first} ") != killed)
        wait_for(lambda: healthy_workers(url) == worker_urls)
        assert command.poll() is None

        # The router killed: restarted over the same workers.
        router = child_on(command.pid, "sglang::router")
        subprocess.run(["kill", "-9", str(router)], check=True)
        wait_for(lambda: generate(url, "after the router").status_code == 200)
        assert healthy_workers(url) == worker_urls

        # SIGTERM: the command returns and no child outlives it.
        pids = list(children(command.pid))
        assert len(pids) == 3
        command.send_signal(signal.SIGTERM)
        assert command.wait(30) == 0
        wait_for(lambda: not any(alive(pid) for pid in pids), 15)
    finally:
        if command.poll() is None:
            command.kill()
    output = command.stdout.read().decode() if command.stdout else ""
    assert "worker-0 exited with code -9; restarting it" in output
    assert "router exited with code -9; restarting it" in output
