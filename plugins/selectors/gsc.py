"""``gsc``: generalized self-consistency, the candidate most similar to the others under a
parameter-free n-gram overlap (docs/methods.md S5)."""

from __future__ import annotations

import asyncio

from pydantic import Field

from ttc.candidate import Candidate
from ttc.component import Selection, Selector, SelectorConfig
from ttc.context import ComponentContext
from ttc.plugin_system import hookimpl
from ttc.plugins.selectors.similarity import ngram_f1_matrix
from ttc.plugins.selectors.voting import argmax_selection
from ttc.registry import RegisterComponent


class GSCConfig(SelectorConfig):
    n: int = Field(default=1, ge=1, le=8)
    """The n-gram order of the overlap (1: unigrams, the default similarity)."""


class GSC(Selector[GSCConfig]):
    """Generalized self-consistency: the candidate with the most n-gram overlap with the rest."""

    name = "gsc"
    Config = GSCConfig

    async def select(self, pool: tuple[Candidate, ...], ctx: ComponentContext) -> Selection:
        config = self.config
        if len(pool) <= 1:
            return argmax_selection(pool, [0.0] * len(pool), "gsc")
        sim = await asyncio.to_thread(ngram_f1_matrix, [c.text for c in pool], config.n)
        totals = [float(v) for v in (sim[i][[j for j in range(len(pool)) if j != i]].sum()
                                     for i in range(len(pool)))]
        return argmax_selection(pool, totals, "gsc", {"n": config.n})


@hookimpl
def ttc_register_components(register: RegisterComponent) -> None:
    register(GSC)
