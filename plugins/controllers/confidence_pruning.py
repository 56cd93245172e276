"""``confidence_pruning``: confidence-weighted token set cover prunes hypotheses while they
are generated (docs/methods.md B5).

The Runtime protocol has no streaming, so the hypotheses advance in chunks of T tokens: the
first chunk is one request for all n samples (one shared prefill); each later chunk is one
request per live hypothesis whose prompt is the rendered prompt plus that hypothesis's text
so far (the local engine's radix cache and SGLang's RadixAttention reuse the prefix, and
concurrent requests decode in one batch). Between chunks a greedy set cover decides which
live hypotheses go on.

Design choices: hypotheses that already finished are always kept and their tokens count as
covered before the greedy pass (they cost nothing more); ``min_keep`` counts every survivor,
finished or live; a stop string that straddles a chunk boundary is not seen (the continuation
starts after it), and a continuation is re-tokenised from text, so its token boundaries can
differ from one long generation's.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import Field

from ttc.candidate import Candidate
from ttc.component import Component, Effect
from ttc.context import ComponentContext
from ttc.plugin_system import hookimpl
from ttc.plugins.controllers.sampling_window import (
    ControllerSampling,
    prompt_of,
    request,
    with_budget,
)
from ttc.registry import RegisterComponent
from ttc.runtime import Capability, Completion
from ttc.state import State

EPSILON = 1e-6
"""ε in the cost 1/(ε + exp(confidence)): keeps the cost finite at confidence −∞."""


class ConfidencePruningConfig(ControllerSampling):
    n: int = Field(default=8, ge=1, le=1024)
    """Hypotheses generated in parallel."""
    T: int = Field(default=256, ge=1, le=32768)
    """Tokens every live hypothesis advances between two pruning decisions."""
    coverage: float = Field(default=0.95, gt=0.0, le=1.0)
    """Keep hypotheses until they cover this fraction of the union of token sets."""
    min_keep: int = Field(default=2, ge=1, le=1024)
    """At least this many hypotheses survive each pruning."""
    prune: bool = True
    """False runs every hypothesis to the end (plain sampling, chunked)."""


@dataclass
class Hypothesis:
    """One sample under construction: its chunks so far, joined at the end."""

    index: int
    seed: int
    text: str = ""
    chunks: list[Completion] = field(default_factory=list)
    finished: bool = False
    pruned_at: int | None = None
    """The chunk after which the cover dropped it (None: it survived)."""

    @property
    def token_count(self) -> int:
        return sum(c.completion_tokens for c in self.chunks)

    @property
    def confidence(self) -> float:
        """Mean sampled logprob so far (c_i in docs/methods.md B5)."""
        logprobs = [lp for c in self.chunks for lp in c.logprobs]
        return sum(logprobs) / len(logprobs) if logprobs else 0.0

    def token_set(self) -> frozenset[int]:
        return frozenset(t for c in self.chunks for t in c.token_ids)

    def completion(self) -> Completion:
        """The chunks as one completion (statistics concatenated; ``abort`` if pruned)."""
        first, last = self.chunks[0], self.chunks[-1]

        def joined(name: str) -> tuple | None:
            parts = [getattr(c, name) for c in self.chunks]
            return None if any(p is None for p in parts) else tuple(x for p in parts for x in p)

        return Completion(
            text=self.text,
            token_ids=tuple(t for c in self.chunks for t in c.token_ids),
            logprobs=tuple(lp for c in self.chunks for lp in c.logprobs),
            finish_reason="abort" if self.pruned_at is not None else last.finish_reason,
            prompt_tokens=first.prompt_tokens,
            cached_tokens=first.cached_tokens,
            top_logprobs=joined("top_logprobs"),
            entropy=joined("entropy"),
            kl_uniform=joined("kl_uniform"),
            matched_stop=last.matched_stop,
        )


def set_cover_keep(token_sets: Sequence[frozenset[int]], confidences: Sequence[float],
                   coverage: float, min_keep: int, fixed: Sequence[int] = ()) -> list[int]:
    """Indices kept by the confidence-weighted greedy set cover, in the order chosen.

    ``fixed`` are kept first (finished hypotheses). Then, until the kept sets cover
    ``coverage`` of the union and at least ``min_keep`` are kept, take the hypothesis with the
    most newly covered tokens per cost 1/(ε + exp(confidence)); ties go to the more
    confident, then the lower index.
    """
    universe = frozenset().union(*token_sets) if token_sets else frozenset()
    kept = list(dict.fromkeys(fixed))
    covered: set[int] = set().union(*(token_sets[i] for i in kept)) if kept else set()
    left = [i for i in range(len(token_sets)) if i not in set(kept)]
    need = coverage * len(universe)
    while left and (len(covered) < need - 1e-9 or len(kept) < min_keep):
        best = max(left, key=lambda i: (
            len(token_sets[i] - covered) * (EPSILON + math.exp(confidences[i])),
            confidences[i], -i))
        left.remove(best)
        kept.append(best)
        covered |= token_sets[best]
    return kept


class ConfidencePruning(Component[ConfidencePruningConfig]):
    """Set-cover pruning: n hypotheses advance T tokens at a time; between chunks, keep the
    most confident ones that cover the union of their tokens and drop the rest."""

    name = "confidence_pruning"
    kind = "controller"
    effect = Effect.PRODUCES
    Config = ConfidencePruningConfig
    needs = frozenset({Capability.LOGPROBS})

    async def run(self, state: State, ctx: ComponentContext) -> State:
        config = self.config
        prompt = await prompt_of(state, ctx, config)
        first_seed = ctx.seed("chunk", 0)
        hyps = [Hypothesis(i, first_seed) for i in range(config.n)]
        chunk, prunings = 0, 0  # chunks drawn; pruning rounds that dropped something
        while True:
            live = [h for h in hyps if not h.finished and h.pruned_at is None]
            if not live:
                break
            await self._advance(ctx, config, prompt, live, chunk)
            chunk += 1
            if config.prune and config.coverage < 1.0:
                prunings += int(self._prune(hyps, config, chunk) > 0)
        survivors = [h for h in hyps if h.pruned_at is None]
        pruned = [h for h in hyps if h.pruned_at is not None]
        return self._result(state, ctx, config, survivors, pruned, chunk, prunings)

    async def _advance(self, ctx: ComponentContext, config: ConfidencePruningConfig,
                       prompt: str, live: list[Hypothesis], chunk: int) -> None:
        """Every live hypothesis gains up to T tokens (one request for all on the first
        chunk, one each after), with seeds from the chunk and the hypothesis index."""
        if chunk == 0:
            size = min(config.T, config.max_tokens)
            completions = await ctx.generate(
                request(prompt, config, len(live), live[0].seed, max_tokens=size))
            pairs = list(zip(live, completions, strict=True))
        else:
            async def one(h: Hypothesis) -> Completion:
                size = min(config.T, config.max_tokens - h.token_count)
                seed = ctx.seed("chunk", chunk, h.index)
                (completion,) = await ctx.generate(
                    request(prompt + h.text, config, 1, seed, max_tokens=size))
                return completion

            pairs = list(zip(live, await asyncio.gather(*(one(h) for h in live)),
                             strict=True))
        for h, completion in pairs:
            h.chunks.append(completion)
            h.text += completion.text
            h.finished = (completion.finish_reason != "length"
                          or h.token_count >= config.max_tokens
                          or completion.completion_tokens == 0)

    @staticmethod
    def _prune(hyps: list[Hypothesis], config: ConfidencePruningConfig, chunk: int) -> int:
        """Drop the live hypotheses the cover does not need; returns how many it dropped."""
        alive = [h for h in hyps if h.pruned_at is None]
        if not any(not h.finished for h in alive):
            return 0
        kept = set(set_cover_keep(
            [h.token_set() for h in alive], [h.confidence for h in alive], config.coverage,
            config.min_keep, fixed=[k for k, h in enumerate(alive) if h.finished]))
        dropped = 0
        for k, h in enumerate(alive):
            if k not in kept:
                h.pruned_at = chunk
                dropped += 1
        return dropped

    @staticmethod
    def _result(state: State, ctx: ComponentContext, config: ConfidencePruningConfig,
                survivors: list[Hypothesis], pruned: list[Hypothesis], chunks: int,
                prunings: int) -> State:
        """Survivors become the pool; pruned ones join the lineage only. Tokens saved are
        estimated against running every pruned hypothesis to the survivors' mean length
        (capped at ``max_tokens``); the upper bound assumes they would have run to
        ``max_tokens``."""

        def make(h: Hypothesis) -> Candidate:
            return ctx.candidate(config.reply(h.text), h.completion(), sample_index=h.index,
                                 seed=h.seed, key="pruning")

        pool = [make(h) for h in survivors]
        dropped = [make(h).with_scores(pruned_after_chunk=float(h.pruned_at or 0))
                   for h in pruned]
        ctx.remember(dropped)
        mean = (sum(h.token_count for h in survivors) / len(survivors)) if survivors else 0.0
        target = min(mean, config.max_tokens)
        saved = sum(max(target - h.token_count, 0.0) for h in pruned)
        saved_max = sum(config.max_tokens - h.token_count for h in pruned)
        spent_pruned = sum(h.token_count for h in pruned)
        reason = "pruned" if pruned else "all finished"
        return with_budget(
            state, ctx, pool, config.n, reason, tokens_saved=saved,
            hypotheses=config.n, pruned=len(pruned), chunks=chunks, prunings=prunings,
            pruned_tokens_spent=spent_pruned, tokens_saved_upper_bound=saved_max)


@hookimpl
def ttc_register_components(register: RegisterComponent) -> None:
    register(ConfidencePruning)
