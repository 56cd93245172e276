"""SGLang's native ``/generate`` as the runtime speaks it: request bodies and their answers.

Shapes follow SGLang's ``GenerateReqInput`` and ``TokenizerManager`` output (see
``ttc.plugins.server.sglang_protocol``, the server side of the same protocol): logprob
entries are ``[logprob, token_id, text]``, a top-k position may be ``null``, prompt logprobs
cover ``input_ids[logprob_start_len:]`` and their first entry is always ``null``.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from typing import Any

from ttc.runtime import (
    Completion,
    GenerateRequest,
    PositionStats,
    RuntimeCallError,
    ScoreRequest,
    ScoreResult,
)


def sample_seed(request_seed: int, index: int) -> int:
    """The seed of sample ``index``: the local engine's derivation (``ttc-local:{seed}:{i}``),
    so an SGLang batch of repeated texts is seeded the way the local engine seeds its rows."""
    digest = hashlib.sha256(f"ttc-local:{request_seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def sampling_params(request: GenerateRequest, *, n: int = 1, seed: int | None = None
                    ) -> dict[str, Any]:
    params = request.params
    out: dict[str, Any] = {
        "max_new_tokens": params.max_tokens,
        "temperature": params.temperature,
        "top_p": params.top_p,
        "top_k": params.top_k if params.top_k > 0 else -1,
        "min_p": params.min_p,
    }
    if n != 1:
        out["n"] = n
    if params.stop:
        out["stop"] = list(params.stop)
    if seed is not None:
        out["sampling_seed"] = seed
    if request.regex is not None:
        out["regex"] = request.regex
    if request.json_schema is not None:
        out["json_schema"] = request.json_schema
    return out


def logprob_fields(top_logprobs: int, token_ids: Sequence[int]) -> dict[str, Any]:
    """Logprobs are always asked for: a ``Completion`` carries the sampled tokens' logprobs."""
    out: dict[str, Any] = {"return_logprob": True}
    if top_logprobs:
        out["top_logprobs_num"] = top_logprobs
    if token_ids:
        out["token_ids_logprob"] = list(token_ids)
    return out


def batch_body(request: GenerateRequest) -> dict[str, Any]:
    """The n samples as n repeated texts with per-sample seeds (SGLang's preference over
    ``n > 1``, whose copies would all share one ``sampling_seed``)."""
    seed = request.params.seed
    params = [
        sampling_params(request, seed=None if seed is None else sample_seed(seed, i))
        for i in range(request.n)
    ]
    return {
        "text": [request.prompt] * request.n,
        "sampling_params": params,
        **logprob_fields(request.top_logprobs, request.token_ids_logprob),
    }


def n_body(request: GenerateRequest) -> dict[str, Any]:
    """One text with ``n``: for servers that seed sample i from (seed, i) themselves."""
    return {
        "text": request.prompt,
        "sampling_params": sampling_params(request, n=request.n, seed=request.params.seed),
        **logprob_fields(request.top_logprobs, request.token_ids_logprob),
    }


PER_TEXT = ("text", "sampling_params", "logprob_start_len", "top_logprobs_num")


def split_texts(body: dict[str, Any]) -> list[dict[str, Any]]:
    """A batch body as one body per text, for servers that take a single ``text`` (the
    router forwards one text per request)."""
    texts = body["text"]
    if isinstance(texts, str):
        return [body]
    out = []
    for i, text in enumerate(texts):
        single = {**body, "text": text}
        for key in PER_TEXT[1:]:
            if isinstance(body.get(key), list):
                single[key] = body[key][i]
        ids = body.get("token_ids_logprob")
        if ids and isinstance(ids[0], list):
            single["token_ids_logprob"] = ids[i]
        out.append(single)
    return out


def outputs(body: Any, expected: int) -> list[dict[str, Any]]:
    """The list of outputs, checked to hold ``expected`` objects."""
    items = body if isinstance(body, list) else [body]
    if len(items) != expected or not all(isinstance(i, dict) for i in items):
        raise RuntimeCallError(
            f"/generate returned {len(items)} outputs where {expected} were expected",
            retryable=True,
        )
    return items


def completion(output: dict[str, Any]) -> Completion:
    try:
        meta = output["meta_info"]
        ids = tuple(int(t) for t in output["output_ids"])
        sampled = meta.get("output_token_logprobs") or []
        logprobs = tuple(_logprob(entry[0]) for entry in sampled)
        if len(logprobs) != len(ids):
            # SGLang's output_ids may lag its logprob entries; the entries carry the ids.
            ids = tuple(int(entry[1]) for entry in sampled)
        finish, matched = _finish(meta.get("finish_reason"))
        return Completion(
            text=str(output["text"]),
            token_ids=ids,
            logprobs=logprobs,
            finish_reason=finish,
            prompt_tokens=int(meta.get("prompt_tokens", 0)),
            cached_tokens=int(meta.get("cached_tokens") or 0),
            top_logprobs=_table(meta.get("output_top_logprobs")),
            token_ids_logprobs=_table(meta.get("output_token_ids_logprobs")),
            matched_stop=matched,
        )
    except (KeyError, TypeError, ValueError, IndexError) as error:
        raise RuntimeCallError(f"/generate returned a malformed output: {error!r}",
                               retryable=True) from error


def score_body(requests: Sequence[ScoreRequest], prompt_lengths: Sequence[int]
               ) -> dict[str, Any]:
    """A prefill of prompt + continuation with prompt logprobs from the last prompt token.

    ``logprob_start_len = P − 1`` makes the entries cover the last prompt token (always
    ``null``) and then every continuation token. A request that needs the distribution
    *after* the continuation (top-k or token-id logprobs, e.g. a Yes/No verdict) decodes one
    greedy token, whose output statistics are that distribution; otherwise nothing is decoded
    (``max_new_tokens: 0``).
    """
    params = []
    for request in requests:
        wants_next = bool(request.top_logprobs or request.token_ids_logprob)
        params.append({"max_new_tokens": 1 if wants_next else 0, "temperature": 0.0})
    body: dict[str, Any] = {
        "text": [r.prompt + r.continuation for r in requests],
        "sampling_params": params,
        "return_logprob": True,
        "logprob_start_len": [max(p - 1, 0) for p in prompt_lengths],
        "top_logprobs_num": [r.top_logprobs for r in requests],
    }
    if any(r.token_ids_logprob for r in requests):
        body["token_ids_logprob"] = [list(r.token_ids_logprob) for r in requests]
    return body


def score_result(output: dict[str, Any], request: ScoreRequest) -> ScoreResult:
    try:
        meta = output["meta_info"]
        entries = (meta.get("input_token_logprobs") or [])[1:]
        top = _table(meta.get("input_top_logprobs"))
        by_id = _table(meta.get("input_token_ids_logprobs"))
        next_top = _table(meta.get("output_top_logprobs")) or ((),)
        next_ids = _table(meta.get("output_token_ids_logprobs")) or ((),)
        return ScoreResult(
            token_ids=tuple(int(e[1]) for e in entries),
            logprobs=tuple(_logprob(e[0]) for e in entries),
            prompt_tokens=int(meta.get("prompt_tokens", 0)),
            cached_tokens=int(meta.get("cached_tokens") or 0),
            top_logprobs=top[1:] if request.top_logprobs and top is not None else None,
            token_ids_logprobs=(
                by_id[1:] if request.token_ids_logprob and by_id is not None else None
            ),
            next_position=PositionStats(
                top_logprobs=next_top[0][: request.top_logprobs] if request.top_logprobs
                else (),
                token_ids_logprobs=next_ids[0] if request.token_ids_logprob else (),
            ),
        )
    except (KeyError, TypeError, ValueError, IndexError) as error:
        raise RuntimeCallError(f"/generate returned a malformed score output: {error!r}",
                               retryable=True) from error


def _logprob(value: Any) -> float:
    """``null`` stands for a non-finite logprob (JSON has no −∞)."""
    return -math.inf if value is None else float(value)


def _table(value: Any) -> tuple[tuple[tuple[int, float], ...], ...] | None:
    if value is None:
        return None
    return tuple(
        tuple((int(e[1]), _logprob(e[0])) for e in position) if position else ()
        for position in value
    )


def _finish(reason: Any) -> tuple[str, str | None]:
    if not isinstance(reason, dict):
        return "stop", None
    kind = reason.get("type")
    if kind == "length":
        return "length", None
    if kind == "abort":
        return "abort", None
    matched = reason.get("matched")
    return "stop", matched if isinstance(matched, str) else None
