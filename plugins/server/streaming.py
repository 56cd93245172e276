"""Streaming: generation items as a sequence of updates, and the SSE response that sends them.

``stream_items`` runs every item of a request concurrently (as ``run_items`` does) and
yields, in the order they happen: ``PromptReady`` when an item's prompt is tokenised (and
scored), ``TokenUpdate`` for every token of every sample (from the runtime's ``on_token``;
a runtime without it sends none, and its samples arrive whole with ``ItemDone``), and
``ItemDone`` with the item's final result. The protocol modules turn these into SGLang's
cumulative chunks or OpenAI's deltas.

A sample's streamed text never runs ahead of its final text: a trailing incomplete UTF-8
character (``\\ufffd``) and a trailing part of a stop string are held back until the next
token settles them, so the text of every chunk is a prefix of the finished text.

``EventStream`` sends the chunks as server-sent events and watches the connection: a client
that goes away cancels the stream, which cancels every runtime call still running (the same
cancellation as a non-streaming request's).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ttc.plugins.server.generation import GenerationItem, ItemResult, PromptScore, run_item
from ttc.plugins.server.served_runtime import ServedRuntime
from ttc.runtime import Completion
from ttc.token_controls import TokenEvent

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PromptReady:
    item: int
    prompt_ids: tuple[int, ...]
    score: PromptScore | None


@dataclass(slots=True)
class SampleProgress:
    """One sample's tokens so far and the text that may be shown of them."""

    token_ids: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    top_logprobs: list[tuple[tuple[int, float], ...]] = field(default_factory=list)
    token_ids_logprobs: list[tuple[tuple[int, float], ...]] = field(default_factory=list)
    text: str = ""
    finish_reason: str | None = None
    """Set with the sample's last token (its text is then final)."""
    matched_stop: str | None = None


@dataclass(frozen=True, slots=True)
class TokenUpdate:
    item: int
    sample: int
    progress: SampleProgress


@dataclass(frozen=True, slots=True)
class ItemDone:
    item: int
    result: ItemResult


Update = PromptReady | TokenUpdate | ItemDone


async def stream_items(served: ServedRuntime, items: Sequence[GenerationItem]
                       ) -> AsyncIterator[Update]:
    """Updates of every item as they happen; the first failure ends the stream with it, and
    closing the stream (a disconnect) cancels what still runs."""
    queue: asyncio.Queue[Update | BaseException] = asyncio.Queue()
    progress = [[SampleProgress() for _ in range(item.n)] for item in items]

    async def one(index: int, item: GenerationItem) -> None:
        def on_prompt(ids: tuple[int, ...], score: PromptScore | None) -> None:
            queue.put_nowait(PromptReady(index, ids, score))

        def on_token(event: TokenEvent) -> None:
            sample = progress[index][event.index]
            sample.token_ids.append(event.token_id)
            sample.logprobs.append(event.logprob)
            if event.top_logprobs is not None:
                sample.top_logprobs.append(event.top_logprobs)
            if event.token_ids_logprobs is not None:
                sample.token_ids_logprobs.append(event.token_ids_logprobs)
            if event.finish_reason is None:
                sample.text = settled_text(sample.text, event.text, item.stop)
            else:  # the last token: the text is final, nothing is held back
                sample.text = event.text if event.text.startswith(sample.text) else sample.text
                sample.finish_reason, sample.matched_stop = event.finish_reason, event.matched_stop
            queue.put_nowait(TokenUpdate(index, event.index, sample))

        try:
            result = await run_item(served, item, on_prompt=on_prompt, on_token=on_token)
        except asyncio.CancelledError:
            raise
        except BaseException as error:
            queue.put_nowait(error)
            return
        queue.put_nowait(ItemDone(index, result))

    tasks = [asyncio.ensure_future(one(i, item)) for i, item in enumerate(items)]
    try:
        remaining = len(items)
        while remaining:
            update = await queue.get()
            if isinstance(update, BaseException):
                raise update
            if isinstance(update, ItemDone):
                remaining -= 1
            yield update
    finally:
        running = [task for task in tasks if not task.done()]
        for task in running:
            task.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)
            logger.info("stream closed early; %d runtime call(s) cancelled", len(running))


async def started_stream(served: ServedRuntime, items: Sequence[GenerationItem]
                         ) -> AsyncIterator[Update]:
    """``stream_items`` once every item's prompt is tokenised (or done): a request that
    fails before that (a prompt too long, a bad token id) is an HTTP error, not a chunk."""
    updates = stream_items(served, items)
    buffered: list[Update] = []
    ready: set[int] = set()
    try:
        while len(ready) < len(items):
            update = await anext(updates)
            buffered.append(update)
            if isinstance(update, PromptReady | ItemDone):
                ready.add(update.item)
    except BaseException:
        await updates.aclose()  # type: ignore[attr-defined]
        raise

    async def chained() -> AsyncIterator[Update]:
        try:
            for update in buffered:
                yield update
            async for update in updates:
                yield update
        finally:
            await updates.aclose()  # type: ignore[attr-defined]

    return chained()


def partial_completion(item: GenerationItem, prompt_ids: Sequence[int],
                       progress: SampleProgress) -> Completion:
    """A running sample as a ``Completion`` (finish reason empty), for the shared builders."""
    return Completion(
        text=progress.text,
        token_ids=tuple(progress.token_ids),
        logprobs=tuple(progress.logprobs),
        finish_reason=progress.finish_reason or "",
        matched_stop=progress.matched_stop,
        prompt_tokens=len(prompt_ids),
        top_logprobs=tuple(progress.top_logprobs) if item.top_logprobs else None,
        token_ids_logprobs=tuple(progress.token_ids_logprobs) if item.token_ids_logprob
        else None,
    )


class TokenTexts:
    """Token texts for logprobs, each detokenised once per stream."""

    def __init__(self, served: ServedRuntime) -> None:
        self.served = served
        self.known: dict[int, str | None] = {}

    async def of(self, ids: Sequence[int]) -> dict[int, str | None]:
        missing = sorted(set(ids) - self.known.keys())
        if missing:
            self.known.update(zip(missing, await self.served.token_texts(missing), strict=True))
        return self.known

    async def of_completion(self, completion: Completion) -> dict[int, str | None]:
        ids = set(completion.token_ids)
        for table in (completion.top_logprobs, completion.token_ids_logprobs):
            for position in table or ():
                ids.update(token for token, _ in position)
        return await self.of(sorted(ids))


def json_text(content: Any) -> str:
    """JSON as SGLang's orjson writes it: a non-finite float becomes null."""
    try:
        return json.dumps(content, allow_nan=False, separators=(",", ":"))
    except ValueError:
        return json.dumps(_finite(content), separators=(",", ":"))


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def settled_text(shown: str, text: str, stops: Sequence[str]) -> str:
    """What of ``text`` may be shown now: no trailing incomplete character, no trailing
    start of a stop string, and never less than (or other than) what was shown before."""
    settled = text.rstrip("\ufffd")
    cut = 0
    for stop in stops:
        for size in range(min(len(stop) - 1, len(settled)), cut, -1):
            if settled.endswith(stop[:size]):
                cut = size
                break
    if cut:
        settled = settled[:-cut]
    if len(settled) <= len(shown) or not settled.startswith(shown):
        return shown
    return settled


def sse(content: Any) -> bytes:
    """One server-sent event holding ``content`` as JSON."""
    return f"data: {json_text(content)}\n\n".encode()


DONE = b"data: [DONE]\n\n"


class EventStream(Response):
    """``text/event-stream`` from an async iterator of ready-made chunks; a disconnect
    cancels the iterator (and so the runtime calls behind it)."""

    media_type = "text/event-stream"

    def __init__(self, chunks: AsyncIterator[bytes], headers: dict[str, str] | None = None
                 ) -> None:
        super().__init__(content=None, status_code=200,
                         headers={"cache-control": "no-cache", **(headers or {})},
                         media_type=self.media_type)
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        self.chunks = chunks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code,
                    "headers": self.raw_headers})

        async def pump() -> None:
            async for chunk in self.chunks:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})

        async def disconnected() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass

        pumping = asyncio.ensure_future(pump())
        watcher = asyncio.ensure_future(disconnected())
        try:
            await asyncio.wait({pumping, watcher}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            watcher.cancel()
            if not pumping.done():
                pumping.cancel()
                logger.info("client disconnected from a stream; request cancelled")
            await asyncio.gather(pumping, watcher, return_exceptions=True)
            aclose: Any = getattr(self.chunks, "aclose", None)
            if aclose is not None:
                await aclose()
        if pumping.done() and not pumping.cancelled() and pumping.exception() is not None:
            raise pumping.exception()  # type: ignore[misc]
