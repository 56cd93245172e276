"""Prompts prefilled a chunk at a time, and the score statistics gathered chunk by chunk.

A prompt's KV is computed in chunks of at most ``chunk`` tokens, so the engine thread returns
to its loop between chunks: a cancelled request stops after the chunk in flight, and decode
steps of other rows (and small prompts) run between the chunks of a long one. Score requests
keep only the statistics of each chunk's logits, never the ``[tokens, vocab]`` logits of the
whole continuation (200 MB per 1,000 tokens for a 49k vocabulary).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ttc.runtime import PositionStats, ScoreResult

from .batch_kv import BatchKV
from .token_stats import chosen_logprobs, position_stats, top_logprobs


@dataclass(eq=False)
class PrefillTask:
    """One prompt's prefill: its ids, the first position whose logits are wanted, progress."""

    ids: tuple[int, ...]
    logits_from: int
    """Positions from here on need logits; the prefix cache may serve only what precedes it."""
    kv: BatchKV | None = None
    """Single-row KV sized for the whole prompt, created when the prefill starts."""
    done: int = 0
    """Positions whose KV exists (cached ones included)."""
    cached: int = 0
    """Positions served by the prefix cache."""

    @property
    def started(self) -> bool:
        return self.kv is not None

    @property
    def remaining(self) -> int:
        return len(self.ids) - self.done


@dataclass(frozen=True, slots=True)
class ScoreInput:
    """A tokenised score request: prompt ids and continuation ids, tokenised apart."""

    prompt_ids: tuple[int, ...]
    continuation_ids: tuple[int, ...]
    top_logprobs: int = 0
    token_ids_logprob: tuple[int, ...] = ()

    def task(self) -> PrefillTask:
        ids = self.prompt_ids + self.continuation_ids
        return PrefillTask(ids, logits_from=len(self.prompt_ids) - 1)


@dataclass(eq=False)
class ScoreStats:
    """Per-position statistics of one score input, appended chunk by chunk."""

    item: ScoreInput
    logprobs: list[float] = field(default_factory=list)
    entropy: list[float] = field(default_factory=list)
    kl_uniform: list[float] = field(default_factory=list)
    top: list[tuple[tuple[int, float], ...]] = field(default_factory=list)
    chosen: list[tuple[tuple[int, float], ...]] = field(default_factory=list)

    def add(self, logits: torch.Tensor, first: int, ids: tuple[int, ...]) -> None:
        """``[positions, vocab]`` logits of positions ``first``, ``first + 1``, …; each
        predicts the next id (the last position has none: a dummy target, never read)."""
        if not len(logits):
            return
        positions = range(first, first + len(logits))
        targets = torch.tensor([ids[p + 1] if p + 1 < len(ids) else 0 for p in positions])
        stats = position_stats(logits, targets)
        self.logprobs += stats.logprob.tolist()
        self.entropy += stats.entropy.tolist()
        self.kl_uniform += stats.kl_uniform.tolist()
        item = self.item
        if item.top_logprobs:
            ids_k, values_k = top_logprobs(logits, stats.log_norm, item.top_logprobs)
            self.top += [tuple(zip(i, v, strict=True))
                         for i, v in zip(ids_k.tolist(), values_k.tolist(), strict=True)]
        if item.token_ids_logprob:
            self.chosen += [chosen_logprobs(logits, stats.log_norm, row, item.token_ids_logprob)
                            for row in range(len(logits))]

    def result(self, cached_tokens: int) -> ScoreResult:
        item, count = self.item, len(self.item.continuation_ids)
        top = self.top if item.top_logprobs else None
        chosen = self.chosen if item.token_ids_logprob else None
        return ScoreResult(
            token_ids=item.continuation_ids,
            logprobs=tuple(self.logprobs[:count]),
            prompt_tokens=len(item.prompt_ids),
            cached_tokens=cached_tokens,
            top_logprobs=tuple(top[:count]) if top is not None else None,
            token_ids_logprobs=tuple(chosen[:count]) if chosen is not None else None,
            entropy=tuple(self.entropy[:count]),
            kl_uniform=tuple(self.kl_uniform[:count]),
            next_position=PositionStats(
                top_logprobs=top[count] if top is not None else (),
                token_ids_logprobs=chosen[count] if chosen is not None else (),
                entropy=self.entropy[count],
                kl_uniform=self.kl_uniform[count],
            ),
        )
