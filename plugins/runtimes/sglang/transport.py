"""JSON over HTTP for the remote runtimes: pooled clients per event loop, one attempt each.

One ``httpx.AsyncClient`` is bound to the event loop that created it, and a runtime is used
from several loops (``Pipeline.run`` drives its own background loop, tests and notebooks run
their own), so each running loop gets its own pooled client.

Every wait is bounded by connect and read timeouts. A request is sent once: failures worth
retrying (5xx, 408, 429, connection errors, timeouts, bodies that are not the JSON promised)
raise a retryable ``RuntimeCallError`` (with the server's ``Retry-After``, if any), which
the run's call gateway retries under ``limits.retries`` and records attempt by attempt; 4xx
answers are the request's fault and raise ``RequestError``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from ttc.runtime import RequestError, RuntimeCallError

logger = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({408, 429})


class JsonTransport:
    """POST/GET JSON to one base URL from any event loop."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float,
        connect_timeout_s: float,
        max_connections: int,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = httpx.Timeout(timeout_s, connect=connect_timeout_s)
        self.limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        self._headers = dict(headers or {})
        self._clients: dict[asyncio.AbstractEventLoop, httpx.AsyncClient] = {}

    def _client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        for stale in [other for other in self._clients if other.is_closed()]:
            del self._clients[stale]  # its loop is gone; so are its sockets
        client = self._clients.get(loop)
        if client is None or client.is_closed:
            client = self._clients[loop] = httpx.AsyncClient(
                base_url=self.base_url, timeout=self.timeout, limits=self.limits,
                headers=self._headers,
            )
        return client

    async def post(self, path: str, body: Any) -> Any:
        return await self._once("POST", path, body)

    async def get(self, path: str) -> Any:
        return await self._once("GET", path, None)

    async def post_stream(self, path: str, body: Any, on_event: Callable[[Any], None]) -> None:
        """POST and read the answer as server-sent events (``data: {...}`` lines up to
        ``data: [DONE]``), handing each JSON payload to ``on_event`` as it arrives. An
        ``{"error": …}`` event is the server refusing the request mid-stream; a stream cut
        before ``[DONE]`` is retryable, as a truncated JSON body is."""
        where = f"POST {self.base_url}{path} (stream)"
        try:
            async with self._client().stream("POST", path, json=body) as response:
                if response.status_code >= 400:
                    await response.aread()
                    _raise_for_status(where, response)
                async for line in response.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    try:
                        event = json.loads(data)
                    except json.JSONDecodeError as error:
                        raise RuntimeCallError(f"{where} sent an event that is not JSON "
                                               f"({error})", retryable=True) from error
                    if isinstance(event, dict) and "error" in event:
                        message = event["error"]
                        if isinstance(message, dict):
                            message = message.get("message", message)
                        raise RequestError(f"{where} failed mid-stream: {message}")
                    on_event(event)
        except httpx.TransportError as error:  # timeouts included
            raise transport_failure(where, error) from error
        raise RuntimeCallError(f"{where} ended before data: [DONE]", retryable=True)

    async def _once(self, method: str, path: str, body: Any) -> Any:
        where = f"{method} {self.base_url}{path}"
        try:
            response = await self._client().request(method, path, json=body)
        except httpx.TransportError as error:  # timeouts included
            raise transport_failure(where, error) from error
        _raise_for_status(where, response)
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            # A truncated or garbled body: the server or a proxy misbehaved, try again.
            raise RuntimeCallError(f"{where} returned a body that is not JSON ({error})",
                                   retryable=True) from error

    async def aclose(self) -> None:
        """Close the current loop's client; clients of other live loops close with them."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        client = self._clients.pop(loop, None)
        if client is not None:
            await client.aclose()


def _raise_for_status(where: str, response: httpx.Response) -> None:
    status = response.status_code
    if status < 400:
        return
    message = _error_message(response)
    if status >= 500 or status in RETRYABLE_STATUS:
        raise RuntimeCallError(
            f"{where} answered {status}: {message}", retryable=True,
            retry_after_s=retry_after_seconds(response.headers.get("retry-after")))
    raise RequestError(f"{where} answered {status}: {message}")


def transport_failure(where: str, error: httpx.TransportError) -> RuntimeCallError:
    """A connection error or timeout as the retryable failure the call gateway retries."""
    if isinstance(error, httpx.TimeoutException):
        return RuntimeCallError(f"{where} timed out ({type(error).__name__})", retryable=True)
    return RuntimeCallError(f"{where} failed: {type(error).__name__}: {error}", retryable=True)


def retry_after_seconds(value: str | None) -> float | None:
    """A ``Retry-After`` header as seconds from now (it is seconds or an HTTP date); None
    when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    from datetime import UTC, datetime

    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _error_message(response: httpx.Response) -> str:
    """The server's own words: SGLang and OpenAI both put them in ``error.message``."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return response.text[:500] or response.reason_phrase
    if isinstance(body, dict):
        error = body.get("error", body.get("detail", body.get("message")))
        if isinstance(error, dict):
            error = error.get("message", error)
        if error is not None:
            return str(error)[:500]
    return str(body)[:500]
