"""A tiny HTTP/1.1 server that misbehaves on purpose, for the remote runtimes' fault tests.

Raw asyncio streams (not a web framework) so it can do what frameworks will not: drop the
connection without answering, promise more body than it sends, or answer garbage.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import deque
from typing import Any

FAULTS = ("http_500", "http_429", "timeout", "drop", "malformed_json", "truncated", "http_400")
RETRY_AFTER_S = 1
"""The ``Retry-After`` a ``http_429`` answer carries."""


def canned_output(i: int) -> dict[str, Any]:
    return {
        "text": " 42", "output_ids": [3, 4],
        "meta_info": {
            "id": f"r{i}", "prompt_tokens": 5, "completion_tokens": 2, "cached_tokens": 4,
            "finish_reason": {"type": "length", "length": 2},
            "output_token_logprobs": [[-0.5, 3, None], [-0.25, 4, None]],
        },
    }


class FaultServer:
    """``faults`` are consumed one per ``/generate`` request; then it answers correctly
    (unless ``always`` names a fault to repeat forever)."""

    def __init__(self, faults: list[str] | None = None, *, always: str | None = None,
                 hang_s: float = 30.0) -> None:
        self.faults: deque[str] = deque(faults or [])
        self.always = always
        self.hang_s = hang_s
        self.generate_requests = 0
        self.bodies: list[Any] = []
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FaultServer:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fault server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()
        pending = asyncio.all_tasks(self._loop)
        for task in pending:  # hanging handlers end here, while the loop can still run
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self._loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    return
                method, path, body = request
                if not await self._answer(writer, method, path, body):
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _answer(self, writer: asyncio.StreamWriter, method: str, path: str,
                      body: bytes) -> bool:
        if path in ("/model_info", "/get_model_info"):
            _respond(writer, 200, json.dumps({"model_path": "fault-model", "vocab_size": 100}))
            return True
        if path != "/generate":
            _respond(writer, 404, json.dumps({"error": {"message": "not found"}}))
            return True
        self.generate_requests += 1
        payload = json.loads(body)
        self.bodies.append(payload)
        fault = self.always or (self.faults.popleft() if self.faults else None)
        count = len(payload["text"]) if isinstance(payload["text"], list) else 1
        good = [canned_output(i) for i in range(count)]
        text = json.dumps(good if isinstance(payload["text"], list) else good[0])
        if fault == "http_500":
            _respond(writer, 500, json.dumps({"error": {"message": "scheduler crashed"}}))
        elif fault == "http_429":
            _respond(writer, 429, json.dumps({"error": {"message": "slow down"}}),
                     {"retry-after": str(RETRY_AFTER_S)})
        elif fault == "http_400":
            _respond(writer, 400, json.dumps({"error": {"message": "max_new_tokens too big"}}))
        elif fault == "timeout":
            await asyncio.sleep(self.hang_s)
            return False
        elif fault == "drop":
            return False  # close without a word
        elif fault == "malformed_json":
            _respond(writer, 200, text[: len(text) // 2] + "}}garbage")
        elif fault == "truncated":
            head = (f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    f"content-length: {len(text) + 100}\r\n\r\n")
            writer.write(head.encode() + text.encode()[: len(text) // 2])
            await writer.drain()
            return False
        else:
            _respond(writer, 200, text)
        await writer.drain()
        return True


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str, bytes] | None:
    line = await reader.readline()
    if not line:
        return None
    method, path, _ = line.decode().split(" ", 2)
    length = 0
    while (header := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = header.decode().partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    body = await reader.readexactly(length) if length else b""
    return method, path, body


def _respond(writer: asyncio.StreamWriter, status: int, text: str,
             headers: dict[str, str] | None = None) -> None:
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 429: "Too Many Requests",
              500: "Internal Server Error"}
    data = text.encode()
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    writer.write(f"HTTP/1.1 {status} {reason[status]}\r\ncontent-type: application/json\r\n"
                 f"{extra}content-length: {len(data)}\r\n\r\n".encode() + data)
