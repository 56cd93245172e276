"""``borda``: self-certainty-ranked Borda voting over answers (docs/methods.md S3, from the
authors' code)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ttc.candidate import Candidate
from ttc.component import Selection, Selector, SelectorConfig
from ttc.context import ComponentContext
from ttc.errors import TTCError
from ttc.plugin_system import hookimpl
from ttc.plugins.selectors.self_certainty import (
    SelfCertainty,
    SelfCertaintyConfig,
    TruncatedPolicy,
    truncated,
)
from ttc.plugins.selectors.voting import weighted_vote
from ttc.registry import RegisterComponent
from ttc.runtime import Capability


class BordaConfig(SelectorConfig):
    p: float = Field(default=0.5, ge=0.0, le=100.0)
    """Rank r of N gives (N − r + 1)^p votes; 0 is plain majority, large p trusts the most
    certain candidate."""
    score: str | None = None
    """Rank by this stored score instead of computing self-certainty."""
    source: Literal["fulldist", "rescore", "topk_lb"] = "fulldist"
    """How self-certainty is computed when ``score`` is not given (see self_certainty)."""
    position_mode: Literal["exact", "reference"] = "exact"
    """Self-certainty positions (see self_certainty)."""
    k: int = Field(default=20, ge=1, le=100)
    """Top-k for ``source: topk_lb``."""
    truncated: TruncatedPolicy = "keep"
    """Candidates cut off at ``max_tokens``: ``keep`` ranks them by certainty like the rest;
    ``last`` ranks them below every complete candidate (fewest votes); ``drop`` gives them
    no vote at all."""


class Borda(Selector[BordaConfig]):
    """Borda voting: candidates ranked by self-certainty give (N−r+1)^p votes to their answer."""

    name = "borda"
    uses_model = True
    """The model whose self-certainty ranks the candidates."""
    Config = BordaConfig

    def _certainty(self) -> SelfCertainty:
        config = self.config
        return SelfCertainty(SelfCertaintyConfig(
            source=config.source, position_mode=config.position_mode, k=config.k,
            penalise_answerless=False,  # an answerless candidate already gets no vote
            truncated="last" if config.truncated != "keep" else "keep",
        ))

    def required_capabilities(self) -> frozenset[Capability]:
        config = self.config
        if config.score is not None:
            return frozenset()
        return self._certainty().required_capabilities()

    async def select(self, pool: tuple[Candidate, ...], ctx: ComponentContext) -> Selection:
        config = self.config
        if config.score is not None:
            missing = [c.id for c in pool if config.score not in c.scores]
            if missing:
                raise TTCError(f"borda: candidates {missing} have no score {config.score!r}")
            certainty = [float(c.scores[config.score]) for c in pool]
            if config.truncated != "keep":
                certainty = [float("-inf") if truncated(c) else v
                             for c, v in zip(pool, certainty, strict=True)]
            ranked_by = config.score
        else:
            ranker = self._certainty()
            certainty = await ranker.certainties(pool, ctx)
            ranked_by = ranker.score_name
        n = len(pool)
        # stable sort, most certain first: equal certainties keep pool order
        ranking = sorted(range(n), key=lambda i: -certainty[i])
        weights = [0.0] * n
        for r, i in enumerate(ranking, start=1):
            weights[i] = float(n - r + 1) ** config.p
            if config.truncated == "drop" and truncated(pool[i]):
                weights[i] = 0.0
        groups = ctx.task_format.groups([c.answer for c in pool])
        selection = weighted_vote(pool, groups, weights, "borda",
                                  {"ranked_by": ranked_by, "p": config.p,
                                   "truncated": config.truncated,
                                   "certainty": {c.id: v for c, v in
                                                 zip(pool, certainty, strict=True)}})
        return selection


@hookimpl
def ttc_register_components(register: RegisterComponent) -> None:
    register(Borda)
