"""Connection deadlines: idle, half-open and slow clients cannot hold a connection forever.

uvicorn closes a keep-alive connection that stays idle after a response
(``timeout_keep_alive``), but has no deadline for the first request on a connection, nor for
a request head or body that trickles in (any byte cancels its keep-alive timer). So the h11
protocol below adds two: a request head must arrive complete within ``head_timeout_s`` of
the connection opening (or of the previous response), and its body within
``body_timeout_s`` of the head. Past a deadline the connection is closed; a body cut off
that way reaches the app as a disconnect. Nothing is timed while the app works on a request.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    keep_alive_s: int = 5
    """An idle keep-alive connection is closed after this long (uvicorn's own timer)."""
    head_timeout_s: float = 10.0
    """A request's headers must be complete this long after the connection is ready."""
    body_timeout_s: float = 60.0
    """A request's body must be complete this long after its headers (32 MB at ~0.5 MB/s)."""
    max_connections: int = 1024
    """Beyond this many open connections or requests in flight, requests get 503."""


class DeadlineH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for the request head and one for its body."""

    head_timeout_s = ConnectionLimits().head_timeout_s  # the class attribute of a slots
    body_timeout_s = ConnectionLimits().body_timeout_s  # dataclass is its slot, not a default

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._deadline: asyncio.TimerHandle | None = None
        self._deadline_state: Any = None
        super().connection_made(transport)
        self._follow_client()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._follow_client()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._follow_client()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _follow_client(self) -> None:
        """Arm the deadline of what the client must send next; none while the app works."""
        if self.transport.is_closing():
            return
        state = self.conn.their_state
        if state is self._deadline_state:
            return
        self._disarm()
        timeout = {h11.IDLE: self.head_timeout_s, h11.SEND_BODY: self.body_timeout_s}.get(state)
        if timeout is not None:
            self._deadline_state = state
            self._deadline = self.loop.call_later(timeout, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = self._deadline_state = None

    def _expire(self) -> None:
        self._deadline = None
        if self.conn.their_state is self._deadline_state and not self.transport.is_closing():
            self.logger.info("closing a connection whose client sent too slowly")
            self.transport.close()


def uvicorn_config(app: Any, *, host: str, port: int, log_level: str,
                   limits: ConnectionLimits | None = None, **options: Any) -> uvicorn.Config:
    """The uvicorn config ``ttc serve`` and ``BackgroundServer`` use: h11 with deadlines."""
    limits = limits or ConnectionLimits()
    protocol = type("DeadlineH11Protocol", (DeadlineH11Protocol,), {
        "head_timeout_s": limits.head_timeout_s, "body_timeout_s": limits.body_timeout_s})
    return uvicorn.Config(app, host=host, port=port, log_level=log_level, http=protocol,
                          timeout_keep_alive=limits.keep_alive_s,
                          limit_concurrency=limits.max_connections, **options)
