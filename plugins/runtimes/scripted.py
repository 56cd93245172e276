"""A deterministic scripted runtime for unit-testing executors, selectors and servers.

It never loads a model: responses come from the recipe's options, tokens are words, and the
"distribution" at each position is a fixed pseudo-random logit vector keyed by the token, so
its statistics are exact *for that distribution* and reproducible. It is not a substitute for
the real model in feature tests.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from collections.abc import Sequence
from typing import ClassVar

from pydantic import Field

from ttc.plugin_system import hookimpl
from ttc.registry import RegisterRuntime
from ttc.runtime import (
    Capability,
    Completion,
    GenerateRequest,
    Message,
    PositionStats,
    RequestError,
    RuntimeCallError,
    RuntimeOptions,
    ScoreRequest,
    ScoreResult,
)

VOCAB = 512


class Rule(RuntimeOptions):
    contains: str
    """Responses used when the prompt contains this text (first matching rule wins)."""
    responses: list[str]


class ScriptedOptions(RuntimeOptions):
    responses: list[str] = Field(default_factory=lambda: ["42"])
    """Sample i of a request answers ``responses[(i + offset) % len]``."""
    rules: list[Rule] = Field(default_factory=list)
    rotate_by_seed: bool = False
    """Offset the response index by the request seed, so different seeds differ."""
    latency_s: float = 0.0
    fail_first: int = 0
    """Fail this many calls (retryable) before answering: for retry tests."""


class ScriptedRuntime:
    name: ClassVar[str] = "scripted"
    Options: ClassVar[type[RuntimeOptions]] = ScriptedOptions
    capabilities = frozenset(
        {
            Capability.SAMPLES,
            Capability.LOGPROBS,
            Capability.TOP_LOGPROBS,
            Capability.FULL_DISTRIBUTION,
            Capability.SCORE,
            Capability.TOKEN_IDS_LOGPROB,
            Capability.SEED,
            Capability.CANCEL,
        }
    )
    vocab_size = VOCAB
    context_length = 4096

    def __init__(self, model: str, options: ScriptedOptions) -> None:
        self.model = model or "scripted"
        self.options = options
        self.calls = 0
        self._failures_left = options.fail_first

    @classmethod
    def static_capabilities(cls, options: RuntimeOptions) -> frozenset[Capability]:
        return cls.capabilities

    @classmethod
    def create(cls, model: str, options: RuntimeOptions) -> ScriptedRuntime:
        assert isinstance(options, ScriptedOptions)
        return cls(model, options)

    async def render(
        self, messages: Sequence[Message], *, add_generation_prompt: bool = True
    ) -> str:
        text = "".join(f"<{m['role']}>{m['content']}</{m['role']}>\n" for m in messages)
        return text + ("<assistant>" if add_generation_prompt else "")

    async def tokenize(self, text: str) -> list[int]:
        return [token_id(word) for word in text.split()]

    async def generate(self, request: GenerateRequest) -> list[Completion]:
        if request.n < 1:
            raise RequestError(f"n must be at least 1, got {request.n}")
        if request.params.temperature < 0:
            raise RequestError("temperature must be >= 0")
        await self._before_call()
        responses = self.options.responses
        for rule in self.options.rules:
            if rule.contains in request.prompt:
                responses = rule.responses
                break
        offset = (request.params.seed or 0) if self.options.rotate_by_seed else 0
        prompt_tokens = len(request.prompt.split())
        out = []
        for i in range(request.n):
            text = responses[(i + offset) % len(responses)]
            text, finish, matched = _apply_stop(text, request.params.stop)
            words = text.split()[: request.params.max_tokens]
            if len(words) < len(text.split()):
                text, finish = " ".join(words), "length"
            ids = tuple(token_id(w) for w in words)
            stats = [
                position_stats(t, request.top_logprobs, request.token_ids_logprob) for t in ids
            ]
            out.append(
                Completion(
                    text=text,
                    token_ids=ids,
                    logprobs=tuple(logprob_of(t) for t in ids),
                    finish_reason=finish,
                    prompt_tokens=prompt_tokens,
                    cached_tokens=prompt_tokens if i else 0,
                    top_logprobs=tuple(s.top_logprobs for s in stats)
                    if request.top_logprobs
                    else None,
                    token_ids_logprobs=tuple(s.token_ids_logprobs for s in stats)
                    if request.token_ids_logprob
                    else None,
                    entropy=_known([s.entropy for s in stats]),
                    kl_uniform=_known([s.kl_uniform for s in stats]),
                    matched_stop=matched,
                )
            )
        return out

    async def score(self, requests: Sequence[ScoreRequest]) -> list[ScoreResult]:
        await self._before_call()
        results = []
        for request in requests:
            ids = tuple(token_id(w) for w in request.continuation.split())
            stats = [
                position_stats(t, request.top_logprobs, request.token_ids_logprob) for t in ids
            ]
            next_id = token_id(f"after:{request.prompt}{request.continuation}")
            results.append(
                ScoreResult(
                    token_ids=ids,
                    logprobs=tuple(logprob_of(t) for t in ids),
                    prompt_tokens=len(request.prompt.split()),
                    top_logprobs=tuple(s.top_logprobs for s in stats)
                    if request.top_logprobs
                    else None,
                    token_ids_logprobs=tuple(s.token_ids_logprobs for s in stats)
                    if request.token_ids_logprob
                    else None,
                    entropy=_known([s.entropy for s in stats]),
                    kl_uniform=_known([s.kl_uniform for s in stats]),
                    next_position=position_stats(
                        next_id, request.top_logprobs, request.token_ids_logprob
                    ),
                )
            )
        return results

    async def _before_call(self) -> None:
        self.calls += 1
        if self.options.latency_s:
            await asyncio.sleep(self.options.latency_s)
        if self._failures_left > 0:
            self._failures_left -= 1
            raise RuntimeCallError("scripted failure", retryable=True)

    async def aclose(self) -> None:
        return None


def token_id(word: str) -> int:
    return int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "big") % VOCAB


def _logits(token: int) -> list[float]:
    """The fixed logit vector of the position that emitted ``token``: peaked on the token."""
    seed = hashlib.blake2b(f"logits:{token}".encode(), digest_size=8).digest()
    base = [((b * 37 + i * 11) % 97) / 97.0 for i, b in enumerate(seed * (VOCAB // 8))]
    base[token] += 4.0
    return base


def _log_softmax(z: list[float]) -> list[float]:
    m = max(z)
    lse = m + math.log(sum(math.exp(x - m) for x in z))
    return [x - lse for x in z]


def logprob_of(token: int) -> float:
    return _log_softmax(_logits(token))[token]


def _known(values: Sequence[float | None]) -> tuple[float, ...]:
    """Statistics this runtime computes at every position (``PositionStats`` allows None)."""
    known = tuple(v for v in values if v is not None)
    assert len(known) == len(values)
    return known


def position_stats(token: int, top: int, ids: Sequence[int]) -> PositionStats:
    z = _logits(token)
    logp = _log_softmax(z)
    lse = z[0] - logp[0]
    entropy = -sum(math.exp(lp) * lp for lp in logp)
    kl = lse - sum(z) / len(z) - math.log(len(z))
    ranked = sorted(range(len(z)), key=lambda i: (-logp[i], i))[:top]
    return PositionStats(
        top_logprobs=tuple((i, logp[i]) for i in ranked),
        token_ids_logprobs=tuple((i, logp[i]) for i in ids),
        entropy=entropy,
        kl_uniform=kl,
    )


def _apply_stop(text: str, stop: Sequence[str]) -> tuple[str, str, str | None]:
    cut, matched = len(text), None
    for s in stop:
        index = text.find(s)
        if s and 0 <= index < cut:
            cut, matched = index, s
    return text[:cut], "stop", matched


@hookimpl
def ttc_register_runtimes(register: RegisterRuntime) -> None:
    register(ScriptedRuntime)
