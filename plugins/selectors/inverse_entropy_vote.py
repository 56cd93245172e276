"""``inverse_entropy_vote``: answers weighted by 1/entropy of their chains (docs/methods.md S8)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from pydantic import Field

from ttc.candidate import Candidate
from ttc.component import Selection, Selector, SelectorConfig
from ttc.context import ComponentContext
from ttc.errors import TTCError
from ttc.plugin_system import hookimpl
from ttc.plugins.selectors.voting import weighted_vote
from ttc.registry import RegisterComponent
from ttc.runtime import Capability

MIN_ENTROPY = 1e-6


def topk_entropy_bits(positions: Sequence[Sequence[tuple[int, float]]], k: int) -> float:
    """Mean over positions of the entropy (bits) of the renormalised top-k distribution."""
    if not positions:
        return 0.0
    total = 0.0
    for pos in positions:
        logps = [lp for _, lp in pos[:k]]
        if not logps:
            continue
        top = max(logps)
        weights = [math.exp(lp - top) for lp in logps]
        norm = sum(weights)
        total -= sum(w / norm * math.log2(w / norm) for w in weights if w > 0)
    return total / len(positions)


class InverseEntropyConfig(SelectorConfig):
    k: int = Field(default=20, ge=1, le=100)
    """Top-k logprobs per position, renormalised, for the entropy."""


class InverseEntropyVote(Selector[InverseEntropyConfig]):
    """Inverse-entropy voting: each chain votes 1/H for its answer (mean top-k entropy)."""

    name = "inverse_entropy_vote"
    needs = frozenset({Capability.TOP_LOGPROBS})
    Config = InverseEntropyConfig

    async def select(self, pool: tuple[Candidate, ...], ctx: ComponentContext) -> Selection:
        config = self.config
        entropies = []
        for candidate in pool:
            if candidate.tokens is None or candidate.tokens.top_logprobs is None:
                raise TTCError(f"inverse_entropy_vote: candidate {candidate.id} has no top-k "
                               f"logprobs; sample with top_logprobs: {config.k}")
            entropies.append(topk_entropy_bits(candidate.tokens.top_logprobs, config.k))
        weights = [1.0 / max(h, MIN_ENTROPY) for h in entropies]
        groups = ctx.task_format.groups([c.answer for c in pool])
        return weighted_vote(pool, groups, weights, "inverse_entropy_vote",
                             {"entropy_bits": {c.id: h for c, h in
                                               zip(pool, entropies, strict=True)}})


@hookimpl
def ttc_register_components(register: RegisterComponent) -> None:
    register(InverseEntropyVote)
