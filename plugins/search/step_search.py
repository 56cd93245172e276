"""The base of every step-level search component: run the method, then leave its results
as the pool (the rest of the tree is remembered, so it is stored) and its accounting as the
``search/<stage>`` artifact and on each pool candidate."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from ttc.component import Component, Effect
from ttc.context import ComponentContext
from ttc.plugins.search.config import SearchConfig
from ttc.plugins.search.expansion import Expander
from ttc.plugins.search.tree import Node
from ttc.runtime import Capability
from ttc.state import State


@dataclass
class Outcome:
    """What a search method found: the pool, best first where the method ranks, and what
    it wants recorded about its run."""

    pool: Sequence[Node]
    record: dict[str, Any] = field(default_factory=dict)


SearchConfigT = TypeVar("SearchConfigT", bound=SearchConfig)


class StepSearch(Component[SearchConfigT]):
    """Base of the step-level searches (docs/methods.md §7); subclasses implement ``search``."""

    kind = "search"
    effect = Effect.PRODUCES
    Config: type[SearchConfigT] = cast("type[SearchConfigT]", SearchConfig)

    def required_capabilities(self) -> frozenset[Capability]:
        return self.needs | self.config.scorer_capabilities()

    async def run(self, state: State, ctx: ComponentContext) -> State:
        expander = Expander(ctx, self.config, self.name)
        await expander.prepare(state)
        outcome = await self.search(expander)
        return finish(state, ctx, expander, outcome)

    async def search(self, expander: Expander) -> Outcome:
        raise NotImplementedError


def finish(state: State, ctx: ComponentContext, expander: Expander,
           outcome: Outcome) -> State:
    """The pool (each node once, final marks on it) and the search record."""
    usage = expander.meter.to_dict()
    pool, seen = [], set()
    for node in outcome.pool:
        if node.candidate is None or node.id in seen:
            continue
        seen.add(node.id)
        candidate = node.annotated(None, final=True).candidate
        assert candidate is not None
        pool.append(candidate.with_artifact("search_usage", usage))
    ctx.remember(pool)
    record = {"method": expander.method, "nodes": expander.created,
              "expansions": expander.expansions, "pool": len(pool), **usage,
              **outcome.record}
    return state.with_pool(pool).with_artifact(f"search/{ctx.stage}", record)
