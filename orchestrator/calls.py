"""Model calls as data: what was asked, what came back, and a fingerprint that names it.

The fingerprint covers everything that determines a response (runtime, model, prompt,
sampling parameters, seed, n), so one fingerprinted store serves caching, replay and resume.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from ttc.runtime import Completion, GenerateRequest, ScoreRequest, ScoreResult


def fingerprint(kind: str, runtime: str, model: str, request: Any) -> str:
    payload = {"kind": kind, "runtime": runtime, "model": model, "request": to_jsonable(request)}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def to_jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    return value


@dataclass(frozen=True, slots=True)
class ModelCall:
    """One attempt at a model call, as the lifecycle hook ``ttc_model_called`` sees it."""

    id: str
    """Unique per attempt."""
    run_id: str
    """The run that made the call (``RunInfo.run_id``)."""
    stage: str
    """The stage's path, e.g. ``2-critic`` (as in ``StageReport.name``)."""
    component: str
    """The name of the component that made the call."""
    model_alias: str
    """The recipe's name for the model (a key of ``models:``)."""
    runtime: str
    """The runtime type, e.g. ``local``, ``sglang``, ``openai``, ``litellm``."""
    model: str
    """The model the runtime serves (a name, a path or a folder)."""
    kind: str
    """``generate`` or ``score``."""
    fingerprint: str
    """A hash of everything that determines the response (runtime, model, request): equal
    fingerprints, interchangeable responses. Replay and resume look calls up by it."""
    request: GenerateRequest | tuple[ScoreRequest, ...]
    """What was asked: the prompt text, sampling parameters, seed and n (``generate``), or
    the (prompt, continuation) pairs (``score``)."""
    response: tuple[Completion, ...] | tuple[ScoreResult, ...] | None
    """One ``Completion`` per sample (text, token ids, logprobs, finish reason) or one
    ``ScoreResult`` per request; None when the call failed."""
    error: str | None
    """Why the attempt failed (``TypeName: message``, or ``timed out``); None on success."""
    latency: float
    """Seconds from sending the request to the response (0 for a replayed call)."""
    attempt: int
    """1 for the first attempt; a retried call is reported once per attempt."""
    prompt_tokens: int = 0
    """Prompt tokens the call read: once per generate call (its n samples share the
    prompt), summed over the requests of a score call."""
    cached_tokens: int = 0
    """Of ``prompt_tokens``, how many a prefix cache served instead of computing."""
    completion_tokens: int = 0
    """Tokens generated, over all samples (0 for ``score``)."""
    replayed: bool = False
    """True when a recording answered (replay, resume, the call cache): no model ran."""

    @property
    def first_token_latency(self) -> float | None:
        """Seconds to the first token of the call's earliest sample, when its runtime
        streamed (``Completion.first_token_latency``); None otherwise."""
        if self.kind != "generate" or not self.response:
            return None
        times = [c.first_token_latency for c in self.response
                 if isinstance(c, Completion) and c.first_token_latency is not None]
        return min(times) if times else None

    @property
    def ok(self) -> bool:
        """The attempt succeeded."""
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        data = to_jsonable(self)
        data["ok"] = self.ok
        data["first_token_latency"] = self.first_token_latency
        return data


def completion_from_dict(data: dict[str, Any]) -> Completion:
    return Completion(**_tuples(data))


def score_result_from_dict(data: dict[str, Any]) -> ScoreResult:
    from ttc.runtime import PositionStats

    fields = _tuples({k: v for k, v in data.items() if k != "next_position"})
    nxt = data.get("next_position") or {}
    return ScoreResult(**fields, next_position=PositionStats(**_tuples(nxt)))


def _tuples(data: dict[str, Any]) -> dict[str, Any]:
    def conv(v: Any) -> Any:
        return tuple(conv(x) for x in v) if isinstance(v, list) else v

    return {k: conv(v) for k, v in data.items()}
