"""``weighted_best_of_n``: best-of-N or answer-weighted voting over any stored score
(docs/methods.md S9)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from ttc.candidate import Candidate
from ttc.component import Selection, Selector, SelectorConfig
from ttc.context import ComponentContext
from ttc.errors import TTCError
from ttc.plugin_system import hookimpl
from ttc.plugins.selectors.voting import argmax_selection, weighted_vote
from ttc.registry import RegisterComponent

STEP_SEPARATOR = "#"
"""Step scores (e.g. from a PRM) are stored as ``name#0``, ``name#1``, … in step order."""


def aggregate(values: Sequence[float], how: str) -> float:
    """``mean``, ``min``, ``last`` or ``prod`` of a candidate's step scores."""
    if not values:
        raise ValueError("no scores to aggregate")
    if how == "mean":
        return sum(values) / len(values)
    if how == "min":
        return min(values)
    if how == "last":
        return values[-1]
    if how == "prod":
        return math.prod(values)
    raise ValueError(f"unknown aggregation {how!r}")


def step_scores(candidate: Candidate, name: str) -> list[float]:
    """The candidate's scores under ``name``: its step scores ``name#k`` in step order, else
    the single score ``name``."""
    prefix = name + STEP_SEPARATOR
    steps = sorted(
        ((int(key[len(prefix):]), value) for key, value in candidate.scores.items()
         if key.startswith(prefix) and key[len(prefix):].isdigit()),
    )
    if steps:
        return [float(v) for _, v in steps]
    if name in candidate.scores:
        return [float(candidate.scores[name])]
    return []


class WeightedBestOfNConfig(SelectorConfig):
    score: str
    """The stored score to use (e.g. ``verifier``, ``self_certainty``, ``prm``); step
    scores ``score#0``, ``score#1``, … are aggregated with ``agg``."""
    mode: Literal["weighted", "naive", "majority"] = "weighted"
    """``naive``: the highest-scoring candidate; ``weighted``: the answer with the largest
    total score; ``majority``: plain voting (the score is ignored)."""
    agg: Literal["last", "min", "prod", "mean"] = "last"
    """How step scores become one reward."""


class WeightedBestOfN(Selector[WeightedBestOfNConfig]):
    """Reward-weighted best-of-N: argmax score, or the answer with the largest summed score."""

    name = "weighted_best_of_n"
    Config = WeightedBestOfNConfig

    async def select(self, pool: tuple[Candidate, ...], ctx: ComponentContext) -> Selection:
        config = self.config
        rewards = []
        for candidate in pool:
            values = step_scores(candidate, config.score)
            if not values:
                known = ", ".join(sorted(candidate.scores)) or "none"
                raise TTCError(f"weighted_best_of_n: candidate {candidate.id} has no score "
                               f"{config.score!r} (it has: {known})")
            rewards.append(aggregate(values, config.agg))
        details = {"score": config.score, "agg": config.agg, "mode": config.mode}
        name = f"weighted_best_of_n.{config.mode}"
        if config.mode == "naive":
            return argmax_selection(pool, rewards, name, details)
        groups = ctx.task_format.groups([c.answer for c in pool])
        weights = rewards if config.mode == "weighted" else [1.0] * len(pool)
        return weighted_vote(pool, groups, weights, name, details)


@hookimpl
def ttc_register_components(register: RegisterComponent) -> None:
    register(WeightedBestOfN)
