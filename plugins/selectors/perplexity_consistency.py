"""``perplexity_consistency``: RPC, answers scored by the total probability of their
distinct reasoning paths, after pruning improbable paths (docs/methods.md S7)."""

from __future__ import annotations

import logging
import math

import numpy as np
from pydantic import Field, model_validator

from ttc.candidate import Candidate
from ttc.component import Selection, Selector, SelectorConfig
from ttc.context import ComponentContext
from ttc.errors import TTCError
from ttc.extras import check_option
from ttc.plugin_system import hookimpl
from ttc.registry import RegisterComponent
from ttc.runtime import Capability

logger = logging.getLogger(__name__)


class PerplexityConsistencyConfig(SelectorConfig):
    length_norm: bool = False
    """Use the mean token logprob instead of the sum (recorded in the details)."""
    prune: bool = True
    """Reasoning pruning: fit a Weibull distribution to the paths' probabilities and drop
    the low tail before voting."""
    prune_below: float = Field(default=0.1, ge=0.0, lt=1.0)
    """Drop paths whose fitted CDF is below this (design choice); the most probable path
    always stays."""
    min_paths_to_prune: int = Field(default=4, ge=3)
    """Fewer distinct paths than this are never pruned (a fit needs data)."""

    @model_validator(mode="after")
    def _installed(self) -> PerplexityConsistencyConfig:
        if self.prune:  # the Weibull fit is scipy's
            check_option("metrics", "perplexity_consistency's prune", "set  prune: false")
        return self


class PerplexityConsistency(Selector[PerplexityConsistencyConfig]):
    """RPC: each answer scores the summed probability of its distinct paths (log space)."""

    name = "perplexity_consistency"
    needs = frozenset({Capability.LOGPROBS})
    Config = PerplexityConsistencyConfig

    async def select(self, pool: tuple[Candidate, ...], ctx: ComponentContext) -> Selection:
        config = self.config
        logp = []
        for candidate in pool:
            if candidate.tokens is None or not candidate.tokens.logprobs:
                raise TTCError(f"perplexity_consistency: candidate {candidate.id} has no "
                               "token logprobs")
            lps = candidate.tokens.logprobs
            logp.append(sum(lps) / len(lps) if config.length_norm else sum(lps))
        groups = ctx.task_format.groups([c.answer for c in pool])
        first_of_text: dict[str, int] = {}
        for i, candidate in enumerate(pool):
            first_of_text.setdefault(candidate.text, i)
        distinct = sorted(set(first_of_text.values()))  # a duplicated path counts once
        kept = prune_paths([logp[i] for i in distinct], config) if config.prune else None
        survivors = distinct if kept is None else [i for i, k in zip(distinct, kept,
                                                                     strict=True) if k]
        by_group: dict[int, list[float]] = {}
        for i in survivors:
            group = groups[i]
            if group is not None:
                by_group.setdefault(group, []).append(logp[i])
        totals = {g: _logsumexp(v) for g, v in by_group.items()}
        scores = {c.id: totals.get(g, -math.inf) if g is not None else -math.inf
                  for c, g in zip(pool, groups, strict=True)}

        def rank(i: int) -> tuple:
            g = groups[i]
            if g is None or g not in totals:
                return (1, 0.0, 0, -logp[i], i)
            return (0, -totals[g], g, -logp[i], i)

        order = sorted(range(len(pool)), key=rank)
        details = {"pruned": [pool[i].id for i in distinct if i not in survivors],
                   "length_norm": config.length_norm}
        if not totals:
            return Selection(winner=None, answer=None, scores=scores,
                             score_name="perplexity_consistency",
                             order=tuple(pool[i].id for i in order), details=details)
        best = pool[order[0]]
        return Selection(winner=best.id, answer=best.answer, scores=scores,
                         score_name="perplexity_consistency",
                         order=tuple(pool[i].id for i in order), details=details)


def prune_paths(logp: list[float], config: PerplexityConsistencyConfig) -> list[bool] | None:
    """Which paths survive: a Weibull fit to their probabilities (relative to the most
    probable path) and a cut at its ``prune_below`` quantile. None when no fit is possible."""
    if len(logp) < config.min_paths_to_prune:
        return None
    values = np.asarray(logp, dtype=np.float64)
    probs = np.exp(values - values.max())
    if np.allclose(probs, probs[0]):
        return None
    from scipy import stats

    try:
        shape, loc, scale = stats.weibull_min.fit(probs, floc=0.0)
        cdf = stats.weibull_min.cdf(probs, shape, loc=loc, scale=scale)
    except Exception:  # a degenerate fit means no pruning, never a failed selection
        logger.debug("Weibull fit failed; not pruning", exc_info=True)
        return None
    keep = [bool(c >= config.prune_below) for c in cdf]
    keep[int(np.argmax(values))] = True
    return keep


def _logsumexp(values: list[float]) -> float:
    top = max(values)
    if top == -math.inf:
        return top
    return top + math.log(sum(math.exp(v - top) for v in values))


@hookimpl
def ttc_register_components(register: RegisterComponent) -> None:
    register(PerplexityConsistency)
