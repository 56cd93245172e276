"""``self_certainty``: best-of-N by the model's own confidence, KL(U‖p) averaged over the
response (docs/methods.md S2, from the authors' code).

Scores under two names that are never mixed: ``self_certainty`` (exact, from the full
distribution) and ``self_certainty_topk_lb`` (a lower bound from top-k logprobs).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from typing import Literal

import numpy as np
from pydantic import Field

from ttc.candidate import Candidate
from ttc.component import Selection, Selector, SelectorConfig
from ttc.context import ComponentContext
from ttc.errors import TTCError
from ttc.plugin_system import hookimpl
from ttc.plugins.selectors.voting import argmax_selection
from ttc.registry import RegisterComponent
from ttc.runtime import Capability, ScoreRequest

EXACT_NAME = "self_certainty"
LOWER_BOUND_NAME = "self_certainty_topk_lb"
ANSWERLESS = -1e9
"""The score of a response without an answer when answers are expected (authors' code)."""
TRUNCATED = -2e9
"""The score of a response cut off at ``max_tokens`` under ``truncated: last|drop``: below
every complete one, answerless ones included."""
TruncatedPolicy = Literal["keep", "last", "drop"]
UNBOUNDED = 1e9
"""A one-hot position has KL(U‖p) = +∞; certainties are capped here so scores stay finite."""
TAIL_FLOOR = 1e-12
"""The tail mass is clamped here (docs/methods.md S2); a true tail below it can push the bound a
little above the exact value, which is why the bound is never ranked with exact scores."""


class MixedCertaintyError(TTCError):
    """Exact and approximate self-certainty were about to be ranked together."""


def kl_uniform_from_logits(logits: np.ndarray) -> np.ndarray:
    """KL(U‖p) per row of raw logits: logsumexp(z) − mean(z) − log V (docs/methods.md S2).

    A −∞ logit makes the mean −∞ and the KL +∞ (a one-hot row): that is the true value.
    """
    z = np.asarray(logits, dtype=np.float64)
    vocab = z.shape[-1]
    top = np.max(z, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", over="ignore"):
        lse = top[..., 0] + np.log(np.sum(np.exp(z - top), axis=-1))
        return lse - np.mean(z, axis=-1) - math.log(vocab)


def kl_uniform_lower_bound(top_logprobs: Sequence[float], vocab_size: int) -> float:
    """KL_lb at one position from its top-k logprobs: the tail mass T is spread uniformly
    over the other V−k tokens, which over-estimates Σ log p (Jensen), so KL_lb ≤ KL."""
    k = len(top_logprobs)
    if vocab_size < k:
        raise ValueError(f"vocabulary size {vocab_size} is smaller than k={k}")
    ell = np.asarray(top_logprobs, dtype=np.float64)
    total = float(np.sum(ell))
    rest = vocab_size - k
    if rest:
        top = float(np.max(ell))
        covered = top + math.log(float(np.sum(np.exp(ell - top))))  # log Σ e^ℓ, stable
        tail = max(-math.expm1(min(covered, 0.0)), TAIL_FLOOR)
        total += rest * math.log(tail / rest)
    return -math.log(vocab_size) - total / vocab_size


def certainty(per_position: Sequence[float]) -> float:
    """The mean over positions, capped at ``UNBOUNDED`` (one-hot positions are +∞)."""
    if not per_position:
        return 0.0
    if isinstance(per_position, tuple):  # stored statistics: re-selections ask again and again
        return _certainty_of(per_position)
    return _certainty_of(tuple(per_position))


@lru_cache(maxsize=65536)
def _certainty_of(per_position: tuple[float, ...]) -> float:
    value = float(np.mean(np.asarray(per_position, dtype=np.float64)))
    if math.isnan(value):
        raise ValueError("self-certainty is undefined (NaN statistics)")
    return min(value, UNBOUNDED)


def truncated(candidate: Candidate) -> bool:
    """Cut off at ``max_tokens`` rather than finished."""
    return candidate.finish_reason == "length"


class SelfCertaintyConfig(SelectorConfig):
    source: Literal["fulldist", "rescore", "topk_lb"] = "fulldist"
    """``fulldist``: exact KL from the statistics recorded while generating; ``rescore``:
    exact KL from a teacher-forced re-forward; ``topk_lb``: a lower bound from top-k
    logprobs, stored as ``self_certainty_topk_lb`` and never ranked with exact scores."""
    position_mode: Literal["exact", "reference"] = "exact"
    """``exact`` averages the distributions that produced the response tokens;
    ``reference`` reproduces the authors' one-position shift (tokens 2…n+1, through a
    re-forward), to match published numbers."""
    k: int = Field(default=20, ge=1, le=100)
    """Top-k logprobs used by ``topk_lb`` (the first k stored)."""
    penalise_answerless: bool | None = None
    """Score responses without an answer −1e9; None does so when the recipe's task
    extracts answers."""
    vocab_size: int | None = Field(default=None, ge=2)
    """V for the lower bound; None asks the runtime (its ``vocab_size``)."""
    truncated: TruncatedPolicy = "keep"
    """Candidates cut off at ``max_tokens`` (finish reason ``length``): ``keep`` ranks them
    like any other (the paper); ``last`` ranks them below every complete candidate (a small
    model's rambling, unfinished answers are often its most "certain"); ``drop`` also takes
    away their votes where votes are counted (Borda)."""


class SelfCertainty(Selector[SelfCertaintyConfig]):
    """Best-of-N by self-certainty: mean KL(uniform‖p) over the response, higher wins."""

    name = "self_certainty"
    uses_model = True
    """The model whose distribution is measured (its vocabulary size, its re-forward)."""
    Config = SelfCertaintyConfig

    def required_capabilities(self) -> frozenset[Capability]:
        config = self.config
        if config.source == "topk_lb":
            needs = {Capability.TOP_LOGPROBS}
        else:
            needs = {Capability.FULL_DISTRIBUTION}
        if config.source == "rescore" or config.position_mode == "reference":
            needs.add(Capability.SCORE)
        return frozenset(needs)

    @property
    def score_name(self) -> str:
        config = self.config
        return LOWER_BOUND_NAME if config.source == "topk_lb" else EXACT_NAME

    async def select(self, pool: tuple[Candidate, ...], ctx: ComponentContext) -> Selection:
        values = await self.certainties(pool, ctx)
        return argmax_selection(pool, values, self.score_name,
                                {"source": self.config.source,
                                 "position_mode": self.config.position_mode})

    async def certainties(self, pool: Sequence[Candidate], ctx: ComponentContext
                          ) -> list[float]:
        """Self-certainty per candidate, in pool order (answerless ones −1e9 if penalised)."""
        config = self.config
        if config.source != "rescore" and config.position_mode == "exact":
            values = [self._from_generation(c, ctx) for c in pool]
        else:
            values = await self._from_rescoring(pool, ctx)
        penalise = config.penalise_answerless
        if penalise is None:
            penalise = ctx.task_format.extracts_answers
        if penalise:
            values = [ANSWERLESS if c.answer is None else v
                      for c, v in zip(pool, values, strict=True)]
        if config.truncated != "keep":
            values = [TRUNCATED if truncated(c) else v
                      for c, v in zip(pool, values, strict=True)]
        return values

    def _from_generation(self, candidate: Candidate, ctx: ComponentContext) -> float:
        config = self.config
        tokens = candidate.tokens
        if config.source == "topk_lb":
            if tokens is None or tokens.top_logprobs is None:
                raise TTCError(
                    f"self_certainty (topk_lb): candidate {candidate.id} has no top-k "
                    f"logprobs; sample with top_logprobs: {config.k} or more"
                )
            vocab = self._vocab(ctx)
            return certainty([kl_uniform_lower_bound([lp for _, lp in pos[: config.k]], vocab)
                              for pos in tokens.top_logprobs])
        if tokens is None or tokens.kl_uniform is None or not tokens.exact:
            raise MixedCertaintyError(
                f"self_certainty: candidate {candidate.id} has no exact full-distribution "
                "statistics, and exact and approximate certainties are never ranked together; "
                "use a runtime with full_distribution, source: rescore, or source: topk_lb"
            )
        return certainty(tokens.kl_uniform)

    async def _from_rescoring(self, pool: Sequence[Candidate], ctx: ComponentContext
                              ) -> list[float]:
        config = self.config
        prompt = await ctx.render(ctx.task.as_messages())
        top = config.k if config.source == "topk_lb" else 0
        results = await ctx.score([ScoreRequest(prompt=prompt, continuation=c.text,
                                                top_logprobs=top) for c in pool])
        vocab = self._vocab(ctx) if config.source == "topk_lb" else 0
        values = []
        for candidate, result in zip(pool, results, strict=True):
            per: list[float | None]
            if config.source == "topk_lb":
                rows = [list(pos) for pos in (result.top_logprobs or ())]
                rows.append(list(result.next_position.top_logprobs))
                per = [kl_uniform_lower_bound([lp for _, lp in row[: config.k]], vocab)
                       for row in rows]
            else:
                if result.kl_uniform is None:
                    raise MixedCertaintyError(
                        f"self_certainty: the re-forward of {candidate.id} returned no exact "
                        "KL statistics")
                per = [*result.kl_uniform, result.next_position.kl_uniform]
            # reference: the distributions at |x|…|x|+n−1, which predict tokens 2…n+1
            per = per[1:] if config.position_mode == "reference" else per[:-1]
            known = [v for v in per if v is not None]
            if len(known) < len(per):
                raise MixedCertaintyError("self_certainty: the runtime left a position's KL "
                                          "statistics out")
            values.append(certainty(known))
        return values

    def _vocab(self, ctx: ComponentContext) -> int:
        config = self.config
        if config.vocab_size is not None:
            return config.vocab_size
        vocab = ctx.runtime().vocab_size
        if not vocab:
            raise TTCError("self_certainty (topk_lb) needs the vocabulary size: the runtime "
                           "does not say it, so set  vocab_size:")
        return int(vocab)


@hookimpl
def ttc_register_components(register: RegisterComponent) -> None:
    register(SelfCertainty)
