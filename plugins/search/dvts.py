"""``dvts``: diverse verifier tree search (docs/methods.md SS2, from search-and-learn).

N is split into N/M independent subtrees (M = ``beam_width``). Each round every subtree
that is still going samples M next steps of its current solution and keeps the best one
(ties: the first sampled); a subtree whose best step ends its solution is done. A
subtree's choice depends only on its own children's scores. The pool is each subtree's
final solution, in subtree order (unfinished ones too when a budget stopped the search).
"""

from __future__ import annotations

from pydantic import Field, model_validator

from ttc.plugin_system import hookimpl
from ttc.plugins.search.config import SearchConfig
from ttc.plugins.search.expansion import Expander, Expansion
from ttc.plugins.search.step_search import Outcome, StepSearch
from ttc.plugins.search.tree import Node
from ttc.registry import RegisterComponent


class DVTSConfig(SearchConfig):
    n: int = Field(default=8, ge=1, le=1024)
    """Steps sampled per round over all subtrees (N)."""
    beam_width: int = Field(default=4, ge=1, le=1024)
    """Steps each subtree samples per round (M); there are N/M subtrees."""

    @model_validator(mode="after")
    def _width_fits(self) -> DVTSConfig:
        if self.beam_width > self.n:
            raise ValueError(f"beam_width ({self.beam_width}) cannot exceed n ({self.n})")
        return self


def best_child(children: list[Node], agg: str) -> Node:
    """The highest-valued child; ties go to the one sampled first."""
    return min(children, key=lambda c: (-c.value(agg), c.order))


class DVTS(StepSearch[DVTSConfig]):
    """Diverse verifier tree search: N/M independent subtrees, each keeps its best of M."""

    name = "dvts"
    Config = DVTSConfig

    async def search(self, expander: Expander) -> Outcome:
        config = self.config
        trees = max(1, config.n // config.beam_width)
        current = [Node()] * trees
        rounds = 0
        for depth in range(config.max_steps):
            going = [i for i in range(trees) if not current[i].finished]
            if not going:
                break
            wanted = [Expansion(current[i], config.beam_width, (i, depth)) for i in going]
            plan = expander.affordable(wanted)
            if not plan:
                break
            rounds += 1
            for i, children in zip(going, await expander.expand(plan), strict=False):
                best = best_child(children, config.agg)
                for child in children:
                    if child is not best:
                        expander.remember(child.annotated(None, pruned_at=depth, subtree=i))
                current[i] = best.annotated(None, subtree=i)
                expander.remember(current[i])
            if len(plan) < len(wanted):
                break
        return Outcome(current, {"subtrees": trees, "rounds": rounds,
                                 "finished": sum(node.finished for node in current)})


@hookimpl
def ttc_register_components(register: RegisterComponent) -> None:
    register(DVTS)
