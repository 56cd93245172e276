"""Idle, half-open and slow connections are closed by the server; prompt clients are not."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.server.conftest import scripted_runtime
from ttc.plugins.server.background import BackgroundServer
from ttc.plugins.server.connections import ConnectionLimits

LIMITS = ConnectionLimits(keep_alive_s=1, head_timeout_s=0.6, body_timeout_s=0.6)
HEAD = ("POST /generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: {length}\r\n\r\n")


@pytest.fixture(scope="module")
def server() -> Iterator[BackgroundServer]:
    with BackgroundServer(scripted_runtime(), connection_limits=LIMITS) as running:
        yield running


def connect(server: BackgroundServer) -> socket.socket:
    return socket.create_connection((server.host, server.port), timeout=5)


def closed_within(sock: socket.socket, seconds: float) -> float:
    """Seconds until the server closes ``sock`` (reading what it sends meanwhile)."""
    start = time.monotonic()
    sock.settimeout(seconds)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        pytest.fail(f"the server kept the connection open for {seconds}s")
    except ConnectionResetError:
        pass
    return time.monotonic() - start


def test_a_connection_that_sends_nothing_is_closed(server: BackgroundServer) -> None:
    with connect(server) as sock:
        assert closed_within(sock, 5) < 3


def test_a_request_head_that_trickles_in_is_closed(server: BackgroundServer) -> None:
    with connect(server) as sock:
        start = time.monotonic()
        with pytest.raises(OSError):  # the server closes while we are still sending
            for byte in HEAD.format(length=2).encode() * 20:
                sock.sendall(bytes([byte]))
                time.sleep(0.05)
        assert time.monotonic() - start < 4


def test_a_body_that_stops_halfway_is_closed(server: BackgroundServer) -> None:
    with connect(server) as sock:
        sock.sendall(HEAD.format(length=100).encode() + b'{"text": "al')
        assert closed_within(sock, 5) < 3
    assert httpx.post(server.url + "/generate", json={"text": "alpha"}).status_code == 200


def test_an_idle_keep_alive_connection_is_closed_after_its_response(
        server: BackgroundServer) -> None:
    with connect(server) as sock:
        body = b'{"text": "alpha"}'
        sock.sendall(HEAD.format(length=len(body)).encode() + body)
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        assert closed_within(sock, 5) < 3


def test_a_client_that_sends_in_parts_within_the_deadlines_is_served(
        server: BackgroundServer) -> None:
    body = b'{"text": "alpha", "sampling_params": {"max_new_tokens": 4}}'
    with connect(server) as sock:
        for _ in range(2):  # two requests on one connection
            head = HEAD.format(length=len(body)).encode()
            for part in (head[:20], head[20:], body[:10], body[10:]):
                sock.sendall(part)
                time.sleep(0.1)
            answer = b""
            while b'"a0"' not in answer:
                answer += sock.recv(65536)
            assert answer.startswith(b"HTTP/1.1 200")
