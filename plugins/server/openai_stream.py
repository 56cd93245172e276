"""OpenAI streaming on ``/v1/chat/completions`` and ``/v1/completions``.

Chunks as OpenAI and SGLang's ``serving_chat.py`` / ``serving_completions.py`` send them:
``chat.completion.chunk`` objects whose choices carry a ``delta`` (the first one per choice
``{"role": "assistant", "content": ""}``, then the new text), or ``text_completion`` objects
whose choices carry the new ``text``; ``logprobs`` of the tokens new in that chunk; the
choice's last chunk has its ``finish_reason`` (and SGLang's ``matched_stop``). With
``stream_options.include_usage`` every chunk has ``"usage": null`` and one last chunk with no
choices carries the usage of the whole request. Then ``data: [DONE]``. An error after the
stream began is a chunk ``{"error": {...}}`` followed by ``[DONE]``.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from ttc.plugins.server import openai_logprobs
from ttc.plugins.server import openai_protocol as openai
from ttc.plugins.server.errors import ApiError, from_runtime_error
from ttc.plugins.server.generation import GenerationItem, ItemResult, PromptScore, matched_stop
from ttc.plugins.server.served_runtime import ServedRuntime
from ttc.plugins.server.streaming import (
    DONE,
    ItemDone,
    PromptReady,
    TokenTexts,
    TokenUpdate,
    Update,
    partial_completion,
    sse,
)
from ttc.runtime import Completion, RuntimeCallError

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class _Sent:
    """What a choice has sent so far."""

    text: str = ""
    tokens: int = 0
    offset: int = 0
    """Characters of token text sent (completions' ``text_offset``)."""
    started: bool = False
    finished: bool = False


async def chunks(
    request: openai.SamplingFields, items: list[GenerationItem], updates: AsyncIterator[Update],
    served: ServedRuntime, *, chat: bool, echo: list[str] | None = None,
) -> AsyncIterator[bytes]:
    """The stream of one chat or completions request (``echo``: the prompt texts a
    completions choice begins with)."""
    head = {
        "id": f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex}",
        "object": "chat.completion.chunk" if chat else "text_completion",
        "created": int(time.time()),
        "model": request.model or served.served_model_name,
    }
    options = request.stream_options
    include_usage = bool(options and options.include_usage)
    n = items[0].n if items else 1
    sent = [_Sent() for _ in range(len(items) * n)]
    prompts: dict[int, tuple[tuple[int, ...], PromptScore | None]] = {}
    results: list[ItemResult] = []
    texts = TokenTexts(served)
    logprobs = getattr(request, "logprobs", None)

    def chunk(choice: dict[str, Any]) -> bytes:
        body: dict[str, Any] = {**head, "choices": [choice]}
        if include_usage:
            body["usage"] = None
        return sse(body)

    async def emit(item: int, sample: int, completion: Completion, finished: bool
                   ) -> bytes | None:
        index = item * n + sample
        state = sent[index]
        if state.finished:
            return None
        text = completion.text
        delta = text[len(state.text):] if text.startswith(state.text) else ""
        start, end = state.tokens, completion.completion_tokens
        if not delta and start == end and not finished and state.started:
            return None
        choice: dict[str, Any] = {"index": index}
        if chat:
            choice["delta"] = ({} if state.started else {"role": "assistant"}) | (
                {"content": delta} if delta or not state.started else {})
        else:
            prefix = echo[index // n] if echo is not None and not state.started else ""
            choice["text"] = prefix + delta
        wanted = bool(logprobs) if chat else logprobs is not None
        choice["logprobs"] = None
        prompt_ids, score = prompts.get(item, ((), None))
        if wanted and echo is not None and not state.started and score is not None:
            # The first chunk of an echo: the prompt's tokens and logprobs, then the new ones.
            await texts.of(prompt_ids)
            known = await texts.of_completion(completion)
            entries = openai_logprobs.echo_logprobs(
                ItemResult(items[item], prompt_ids, [completion], score, dict(known)),
                completion, logprobs or 0, end)
            state.offset += sum(len(token) for token in entries["tokens"])
            choice["logprobs"] = entries
        elif wanted and end > start:
            known = await texts.of_completion(completion)
            if chat:
                choice["logprobs"] = {"content": openai_logprobs.chat_logprobs(
                    completion, known, start, end)}
            else:
                entries = openai_logprobs.legacy_logprobs(completion, known, logprobs or 0,
                                                          start, end, state.offset)
                state.offset += sum(len(token) for token in entries["tokens"])
                choice["logprobs"] = entries
        choice["finish_reason"] = completion.finish_reason if finished else None
        if finished:
            choice["matched_stop"] = matched_stop(completion, served)
        state.text += delta
        state.tokens, state.started, state.finished = end, True, finished
        return chunk(choice)

    try:
        async for update in updates:
            if isinstance(update, PromptReady):
                prompts[update.item] = (update.prompt_ids, update.score)
            elif isinstance(update, TokenUpdate):
                # A sample's last token carries its finish reason: one chunk, as SGLang
                # sends it, with the token's logprobs and the finish reason together.
                progress = update.progress
                partial = partial_completion(items[update.item], prompts[update.item][0],
                                             progress)
                out = await emit(update.item, update.sample, partial,
                                 finished=progress.finish_reason is not None)
                if out is not None:
                    yield out
            elif isinstance(update, ItemDone):
                results.append(update.result)
                for sample, completion in enumerate(update.result.completions):
                    out = await emit(update.item, sample, completion, finished=True)
                    if out is not None:
                        yield out
        if include_usage:
            yield sse({**head, "choices": [], "usage": openai.usage(results)})
    except ApiError as error:
        yield sse({"error": _error(error)})
    except RuntimeCallError as error:
        yield sse({"error": _error(from_runtime_error(error))})
    except Exception as error:  # a bug costs this stream, never the server
        logger.exception("internal error while streaming an OpenAI response")
        yield sse({"error": _error(ApiError(f"internal server error: {type(error).__name__}",
                                            500))})
    yield DONE


def _error(error: ApiError) -> dict[str, Any]:
    return {"message": error.message, "type": "BadRequestError" if error.status == 400
            else "InternalServerError", "param": error.param, "code": error.status}
