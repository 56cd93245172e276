"""SGLang's streaming ``/generate``: ``data: {...}`` chunks, then ``data: [DONE]``.

As SGLang streams (``stream: true``, ``incremental_streaming_output`` off): every chunk is a
whole output so far — cumulative ``text`` and ``output_ids``, ``meta_info`` with
``completion_tokens`` and the logprobs so far, ``finish_reason`` null until the sample's last
chunk. A batch or ``n > 1`` interleaves the chunks of every output, each carrying its
``index`` (text-major: ``text * n + sample``, the order of the non-streaming list); so does a
single output. An error after the stream began is a chunk ``{"error": {"message"}}``
followed by ``[DONE]``, as SGLang sends it.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from ttc.plugins.server import sglang_protocol as sglang
from ttc.plugins.server.errors import ApiError, from_runtime_error
from ttc.plugins.server.generation import ItemResult, PromptScore
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
from ttc.runtime import RuntimeCallError

logger = logging.getLogger(__name__)


async def chunks(normalized: sglang.NormalizedGenerate, updates: AsyncIterator[Update],
                 served: ServedRuntime, started: float) -> AsyncIterator[bytes]:
    n = normalized.items[0].n if normalized.items else 1
    rids = [rid or uuid.uuid4().hex for rid in normalized.rids]
    prompts: dict[int, tuple[tuple[int, ...], PromptScore | None]] = {}
    texts = TokenTexts(served)
    try:
        async for update in updates:
            if isinstance(update, PromptReady):
                prompts[update.item] = (update.prompt_ids, update.score)
                continue
            item = normalized.items[update.item]
            opts = normalized.logprobs[update.item]
            latency = time.perf_counter() - started
            if isinstance(update, TokenUpdate):
                prompt_ids, score = prompts[update.item]
                partial = partial_completion(item, prompt_ids, update.progress)
                known = {}
                if opts.return_text:
                    await texts.of(prompt_ids)
                    known = await texts.of_completion(partial)
                result = ItemResult(item, prompt_ids, [partial], score, known)
                index = update.item * n + update.sample
                yield _chunk(sglang.output(result, partial, opts, rids[index], served, latency,
                                           finished=False), index)
            elif isinstance(update, ItemDone):
                result = update.result
                if opts.return_text:
                    known = await texts.of(result.prompt_ids)
                    for completion in result.completions:
                        known = await texts.of_completion(completion)
                    result = ItemResult(result.item, result.prompt_ids, result.completions,
                                        result.prompt_score, dict(known))
                for sample, completion in enumerate(result.completions):
                    index = update.item * n + sample
                    yield _chunk(sglang.output(result, completion, opts, rids[index], served,
                                               latency), index)
    except ApiError as error:
        yield sse({"error": {"message": error.message}})
    except RuntimeCallError as error:
        yield sse({"error": {"message": from_runtime_error(error).message}})
    except Exception as error:  # a bug costs this stream, never the server
        logger.exception("internal error while streaming /generate")
        yield sse({"error": {"message": f"internal server error: {type(error).__name__}"}})
    yield DONE


def _chunk(output: dict[str, Any], index: int) -> bytes:
    output["index"] = index
    return sse(output)
