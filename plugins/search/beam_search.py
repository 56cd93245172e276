"""``beam_search``: PRM-guided beam search over reasoning steps (docs/methods.md SS1, after
search-and-learn).

Each round, N beams each add one step and every step is scored; finished solutions leave
the beam, the best N/M of the others (M = ``beam_width``) are kept and each grows M children
in the next round (the N expansions are shared out evenly when fewer than N/M are left).
With ``lookahead`` L > 0 a new step is ranked by the value at the end of a greedy L-step
rollout past it (design choice, after Snell et al.'s lookahead search; the rollout is not
kept). The finished solutions, best first, are the pool; a budget that stops the search
early adds the beams alive at that moment, unfinished. The final pick is the recipe's
selector (``weighted_best_of_n`` over the stored step scores is docs/methods.md S9).
"""

from __future__ import annotations

from pydantic import Field, model_validator

from ttc.plugin_system import hookimpl
from ttc.plugins.search.config import SearchConfig
from ttc.plugins.search.expansion import Expander, Expansion
from ttc.plugins.search.step_search import Outcome, StepSearch
from ttc.plugins.search.tree import Node
from ttc.registry import RegisterComponent


class BeamSearchConfig(SearchConfig):
    n: int = Field(default=4, ge=1, le=1024)
    """Beams: steps sampled per round (N)."""
    beam_width: int = Field(default=4, ge=1, le=1024)
    """Children of each kept beam (M); the best N/M beams are kept each round."""
    lookahead: int = Field(default=0, ge=0, le=16)
    """Greedy steps rolled out past a new step to rank it (0: rank the step itself)."""

    @model_validator(mode="after")
    def _width_fits(self) -> BeamSearchConfig:
        if self.beam_width > self.n:
            raise ValueError(f"beam_width ({self.beam_width}) cannot exceed n ({self.n})")
        return self


def share(kept: list[Node], n: int) -> list[int]:
    """How many children each kept beam grows so that the round samples n steps."""
    base, extra = divmod(n, len(kept))
    return [base + (1 if i < extra else 0) for i in range(len(kept))]


class BeamSearch(StepSearch[BeamSearchConfig]):
    """PRM beam search: N beams step by step; keep the best N/M, grow M children each."""

    name = "beam_search"
    Config = BeamSearchConfig

    async def search(self, expander: Expander) -> Outcome:
        config = self.config
        keep = max(1, config.n // config.beam_width)
        frontier = [Expansion(Node(), config.n, (0,))]
        completed: list[Node] = []
        kept: list[Node] = []
        live: list[int] = []
        for depth in range(config.max_steps):
            plan = expander.affordable(frontier, config.lookahead)
            if not plan:
                break
            children = [c for group in await expander.expand(plan) for c in group]
            live.append(len(children))
            completed += [c for c in children if c.finished]
            active = [c for c in children if not c.finished]
            values = {c.id: c.value(config.agg) for c in active}
            if config.lookahead and active:
                looked = await expander.lookahead(active, config.lookahead)
                for i, (child, (value, text)) in enumerate(zip(active, looked, strict=True)):
                    values[child.id] = value
                    active[i] = child.annotated({"lookahead_value": value}, lookahead=text)
                    expander.remember(active[i])
            ranked = sorted(active, key=lambda c: (-values[c.id], c.order))
            kept = ranked[:keep]
            for child in ranked[keep:]:
                expander.remember(child.annotated(None, pruned_at=depth))
            if not kept or len(plan) < len(frontier):
                break
            frontier = [Expansion(beam, count, (depth + 1,))
                        for beam, count in zip(kept, share(kept, config.n), strict=True)]
        stopped = expander.meter.stopped_by is not None
        finished = sorted(completed, key=lambda c: (-c.value(config.agg), c.order))
        return Outcome([*finished, *(kept if stopped else [])],
                       {"live_beams": live, "completed": len(completed)})


@hookimpl
def ttc_register_components(register: RegisterComponent) -> None:
    register(BeamSearch)
