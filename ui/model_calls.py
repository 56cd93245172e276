"""The model calls of a recorded run as rows (tokens, cached tokens, latency, attempt,
served from a recording or made, failure) and one call in full (prompt and response)."""

from __future__ import annotations

from typing import Any


def call_rows(run: Any) -> list[dict[str, Any]]:
    return [{
        "seq": call.seq,
        "stage": call.stage,
        "component": call.component,
        "model": call.model_alias,
        "runtime": call.runtime,
        "kind": call.kind,
        "attempt": call.attempt,
        "prompt_tokens": call.prompt_tokens,
        "cached_tokens": call.cached_tokens,
        "completion_tokens": call.completion_tokens,
        "latency_s": round(call.latency, 4),
        "replayed": call.replayed,
        "failure": call.error,
    } for call in sorted(run.model_calls, key=lambda c: c.seq)]


def call_label(call: Any) -> str:
    state = "FAILED" if call.error else "replayed" if call.replayed else "made"
    return (f"#{call.seq} {call.stage} · {call.component} · {call.kind} · attempt "
            f"{call.attempt} · {state}")


def prompts(call: Any) -> list[str]:
    """The prompt text(s) of a call: one for generate, one per request for score."""
    request = call.request
    if isinstance(request, dict):
        return [str(request.get("prompt", ""))]
    if isinstance(request, list):
        return [f"{r.get('prompt', '')}⟨continuation⟩{r.get('continuation', '')}"
                for r in request if isinstance(r, dict)]
    return [str(request)]


def parameters(call: Any) -> dict[str, Any]:
    """The request without its prompt (sampling parameters, n, constraints)."""
    request = call.request
    if isinstance(request, dict):
        return {k: v for k, v in request.items() if k != "prompt"}
    return {}


def responses(call: Any) -> list[dict[str, Any]]:
    """Each completion (or score result) without the per-token arrays."""
    out = []
    for item in call.response or []:
        if not isinstance(item, dict):
            continue
        out.append({k: v for k, v in item.items() if k not in {
            "token_ids", "logprobs", "top_logprobs", "token_ids_logprobs", "entropy",
            "kl_uniform"}} | {"tokens": len(item.get("token_ids") or [])})
    return out
