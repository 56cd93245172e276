"""Logprobs in OpenAI's two shapes: completions' ``{tokens, token_logprobs, top_logprobs,
text_offset}`` (with ``echo``, the prompt's tokens first) and chat's ``content`` entries
(``{token, logprob, bytes, top_logprobs}``). A stream sends them in parts, so each takes the
token range it covers. Token texts come from the runtime's ``detokenize``; without it a token
reads ``token_id:N`` (vLLM's convention).
"""

from __future__ import annotations

from typing import Any

from ttc.plugins.server.generation import ItemResult
from ttc.runtime import Completion


def echo_logprobs(result: ItemResult, completion: Completion, k: int, end: int | None = None
                  ) -> dict[str, Any]:
    """Logprobs of the prompt's tokens (the first one's is null) followed by the
    completion's (its first ``end``), as ``echo`` with ``logprobs`` returns them."""
    end = completion.completion_tokens if end is None else end
    texts = result.token_texts
    score = result.prompt_score
    assert score is not None
    ids = [*result.prompt_ids, *completion.token_ids[:end]]
    values = [*score.logprobs, *completion.logprobs[:end]]
    tables: list[Any] = [*(score.top_logprobs or [None] * len(result.prompt_ids)),
                         *(completion.top_logprobs or [()] * completion.completion_tokens)[:end]]
    tokens = [token_text(t, texts) for t in ids]
    offsets, offset = [], 0
    for token in tokens:
        offsets.append(offset)
        offset += len(token)
    top = None
    if k > 0:
        top = [None if position is None else {token_text(t, texts): lp for t, lp in position[:k]}
               for position in tables]
    return {"text_offset": offsets, "token_logprobs": values, "tokens": tokens,
            "top_logprobs": top}


def legacy_logprobs(completion: Completion, texts: dict[int, str | None], k: int,
                    start: int = 0, end: int | None = None, offset: int = 0) -> dict[str, Any]:
    """Completions-style logprobs of tokens ``start:end`` (a stream sends them in parts);
    ``offset`` is where the first of them starts in the text."""
    end = completion.completion_tokens if end is None else end
    tokens = [token_text(t, texts) for t in completion.token_ids[start:end]]
    offsets = []
    for token in tokens:
        offsets.append(offset)
        offset += len(token)
    top = None
    if k > 0 and completion.top_logprobs is not None:
        top = [
            {token_text(t, texts): lp for t, lp in position[:k]}
            for position in completion.top_logprobs[start:end]
        ]
    return {
        "text_offset": offsets,
        "token_logprobs": list(completion.logprobs[start:end]),
        "tokens": tokens,
        "top_logprobs": top,
    }


def chat_logprobs(completion: Completion, texts: dict[int, str | None], start: int = 0,
                  end: int | None = None) -> list[dict[str, Any]]:
    """Chat-style logprobs of tokens ``start:end`` (a stream sends them in parts)."""
    end = completion.completion_tokens if end is None else end
    tops = completion.top_logprobs or [()] * completion.completion_tokens
    content = []
    for token, lp, top in zip(completion.token_ids[start:end], completion.logprobs[start:end],
                              tops[start:end], strict=True):
        text = token_text(token, texts)
        content.append(
            {
                "token": text,
                "logprob": lp,
                "bytes": list(text.encode()),
                "top_logprobs": [
                    {
                        "token": token_text(t, texts),
                        "logprob": v,
                        "bytes": list(token_text(t, texts).encode()),
                    }
                    for t, v in top
                ],
            }
        )
    return content


def token_text(token: int, texts: dict[int, str | None]) -> str:
    """A token's text; ``token_id:N`` (vLLM's convention) when the runtime cannot say."""
    text = texts.get(token)
    return text if text is not None else f"token_id:{token}"
