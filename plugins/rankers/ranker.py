"""``ranker``: listwise (or pairwise) LLM ranking that keeps the best ``top_k``
(docs/methods.md C2).

Critiques are read from the candidates themselves, so after a fuser (whose candidates are
new) the ranker sees none unless a critic ran again.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Literal

from pydantic import Field

from ttc.candidate import Candidate
from ttc.component import Component, ComponentConfig, Effect
from ttc.context import ComponentContext
from ttc.plugin_system import hookimpl
from ttc.plugins.critics.critique import critique_of
from ttc.plugins.prompts import ranker as prompts
from ttc.plugins.rankers.ranking_parse import parse_choice, parse_ranking
from ttc.plugins.structured.ask import RETRIES_RENAMED, Reply, ask, record_parse_failure
from ttc.registry import RegisterComponent
from ttc.state import State

SCORE = "ranker"


class RankerConfig(ComponentConfig):
    top_k: int = Field(default=5, ge=1)
    """How many of the best candidates stay in the pool."""
    use_critiques: bool = False
    """Show each candidate's critique (from a critic that ran on *these* candidates)."""
    mode: Literal["listwise", "pairwise"] = "listwise"
    """``listwise``: one call orders all; ``pairwise``: every pair is compared (n(n-1)/2
    calls, both orders when ``both_orders``) and candidates are ordered by wins."""
    both_orders: bool = False
    """Pairwise: ask each pair in both orders to cancel position bias."""
    temperature: float = Field(default=0.0, ge=0.0, le=5.0)
    """Sampling temperature; 0 is greedy decoding."""
    max_tokens: int = Field(default=64, ge=1, le=4096)
    """The most tokens one call may generate."""
    parse_retries: int = Field(default=2, ge=0, le=10)
    """Re-asks when a reply names no index (a partial ranking is repaired, not re-asked); a
    ranking that never parses keeps the pool order and is a run warning."""
    renamed = RETRIES_RENAMED


class Ranker(Component[RankerConfig]):
    """Ranker: orders candidates with the model (listwise or pairwise) and keeps top_k."""

    name = "ranker"
    kind = "ranker"
    effect = Effect.SELECTS
    needs_candidates = True
    Config = RankerConfig

    async def run(self, state: State, ctx: ComponentContext) -> State:
        config = self.config
        pool = state.pool
        if not pool:
            return state
        critiques = [critique_of(c) for c in pool] if config.use_critiques else None
        if len(pool) == 1:
            order = [1]
        elif config.mode == "pairwise":
            order, state = await self._pairwise(state, ctx, critiques)
        else:
            order, state = await self._listwise(state, ctx, critiques)
        n = len(pool)
        ranked = [pool[i - 1].with_scores(**{SCORE: float(n - place)})
                  for place, i in enumerate(order)]
        ctx.remember(ranked)  # the dropped ones keep their rank in the lineage
        return state.with_pool(ranked[: config.top_k])

    async def _listwise(self, state: State, ctx: ComponentContext,
                        critiques: list[str | None] | None) -> tuple[list[int], State]:
        config = self.config
        n = len(state.pool)
        content = prompts.list_prompt(state.task.question, [c.text for c in state.pool],
                                      critiques)
        prompt = await ctx.render([{"role": "user", "content": content}])
        reply = await ask(ctx, prompt, lambda r: parse_ranking(r, n), key=("ranker",),
                          max_tokens=config.max_tokens, temperature=config.temperature,
                          parse_retries=config.parse_retries, regex=prompts.list_regex(n))
        if reply.value is None:
            return list(range(1, n + 1)), record_parse_failure(state, ctx, "ranking", reply)
        return reply.value, state

    async def _pairwise(self, state: State, ctx: ComponentContext,
                        critiques: list[str | None] | None) -> tuple[list[int], State]:
        config = self.config
        pool = state.pool
        pairs = list(itertools.combinations(range(len(pool)), 2))
        if config.both_orders:
            pairs += [(j, i) for i, j in pairs]
        replies = await asyncio.gather(*(
            self._compare(ctx, state.task.question, pool[i], pool[j], critiques, i, j)
            for i, j in pairs))
        wins = [0.0] * len(pool)
        for (i, j), reply in zip(pairs, replies, strict=True):
            if reply.value == "A":
                wins[i] += 1
            elif reply.value == "B":
                wins[j] += 1
            else:  # an unreadable verdict is a tie, and recorded
                wins[i] += 0.5
                wins[j] += 0.5
                state = record_parse_failure(state, ctx, f"pair {pool[i].id} vs {pool[j].id}",
                                             reply)
        order = sorted(range(len(pool)), key=lambda k: (-wins[k], k))
        return [k + 1 for k in order], state

    async def _compare(self, ctx: ComponentContext, question: str, a: Candidate, b: Candidate,
                       critiques: list[str | None] | None, i: int, j: int) -> Reply[str]:
        config = self.config
        content = prompts.pair_prompt(question, a.text, b.text,
                                      critiques[i] if critiques else None,
                                      critiques[j] if critiques else None)
        prompt = await ctx.render([{"role": "user", "content": content}])
        return await ask(ctx, prompt, parse_choice, key=("pair", a.id, b.id),
                         max_tokens=min(config.max_tokens, 8), temperature=config.temperature,
                         parse_retries=config.parse_retries, regex="A|B")


@hookimpl
def ttc_register_components(register: RegisterComponent) -> None:
    register(Ranker)
