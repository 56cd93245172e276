"""``majority``: self-consistency voting over extracted answers (docs/methods.md S1)."""

from __future__ import annotations

from typing import Literal

from ttc.candidate import Candidate
from ttc.component import Selection, Selector, SelectorConfig
from ttc.context import ComponentContext
from ttc.plugin_system import hookimpl
from ttc.registry import RegisterComponent


class MajorityConfig(SelectorConfig):
    tie_break: Literal["first", "mean_logprob"] = "mean_logprob"
    """Between answers with equal votes: the one seen first, or the one whose candidates
    have the higher mean token logprob (then the one seen first)."""


class Majority(Selector[MajorityConfig]):
    """Self-consistency: the most common extracted answer wins."""

    name = "majority"
    Config = MajorityConfig

    async def select(self, pool: tuple[Candidate, ...], ctx: ComponentContext) -> Selection:
        config = self.config
        groups = ctx.task_format.groups([c.answer for c in pool])
        votes: dict[int, int] = {}
        logprob_sum: dict[int, float] = {}
        for candidate, group in zip(pool, groups, strict=True):
            if group is None:
                continue
            votes[group] = votes.get(group, 0) + 1
            lp = candidate.tokens.mean_logprob if candidate.tokens else 0.0
            logprob_sum[group] = logprob_sum.get(group, 0.0) + lp
        scores = {c.id: float(votes.get(g, 0)) if g is not None else 0.0
                  for c, g in zip(pool, groups, strict=True)}
        if not votes:
            return Selection(winner=None, answer=None, scores=scores, score_name="majority",
                             order=tuple(c.id for c in pool), details={"votes": {}})

        def rank(group: int) -> tuple[float, float, int]:
            mean_lp = logprob_sum[group] / votes[group]
            tie = -mean_lp if config.tie_break == "mean_logprob" else 0.0
            return (-votes[group], tie, group)  # group index = first appearance

        best = min(votes, key=rank)
        winner_index = groups.index(best)

        def position(i: int) -> tuple[tuple[float, float, int], int]:
            group = groups[i]
            return (rank(group) if group is not None else (1, 0.0, len(pool)), i)

        order = sorted(range(len(pool)), key=position)
        return Selection(
            winner=pool[winner_index].id,
            answer=pool[winner_index].answer,
            scores=scores,
            score_name="majority",
            order=tuple(pool[i].id for i in order),
            details={"votes": {pool[groups.index(g)].answer: v for g, v in votes.items()}},
        )


@hookimpl
def ttc_register_components(register: RegisterComponent) -> None:
    register(Majority)
