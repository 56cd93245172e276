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
    run_id: str
    stage: str
    component: str
    model_alias: str
    runtime: str
    model: str
    kind: str
    """``generate`` or ``score``."""
    fingerprint: str
    request: GenerateRequest | tuple[ScoreRequest, ...]
    response: tuple[Completion, ...] | tuple[ScoreResult, ...] | None
    error: str | None
    latency: float
    attempt: int
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    replayed: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        data = to_jsonable(self)
        data["ok"] = self.ok
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
