"""``astar_decoding``: best-first search over reasoning steps (docs/methods.md SS4, A*-decoding).

A priority queue of partial solutions ordered by f = g + h, lowest first (ties: the one
made first). Pop the best; if its solution has ended, that is the answer; otherwise sample
k next steps, score them and push them. Defaults g = Σ_t −log s_t over the steps and
h = −log s of the last step, scores clipped to [1e-7, 1]; ``h: zero`` is uniform-cost
search. The search also stops at ``max_expansions`` or when a budget cannot afford the next
expansion. The pool is the popped solution, then every other ended solution on the queue
by f; when none ended, the best partial solution.
"""

from __future__ import annotations

import heapq
import math
from typing import Literal

from pydantic import Field

from ttc.plugin_system import hookimpl
from ttc.plugins.search.config import SearchConfig
from ttc.plugins.search.expansion import Expander, Expansion
from ttc.plugins.search.step_search import Outcome, StepSearch
from ttc.plugins.search.tree import Node
from ttc.registry import RegisterComponent

CLIP = 1e-7


class AStarConfig(SearchConfig):
    k: int = Field(default=4, ge=1, le=1024)
    """Next steps sampled per expansion."""
    max_expansions: int = Field(default=64, ge=1, le=100_000)
    """The fixed expansion budget: nodes expanded before the search gives up."""
    g: Literal["neg_log_sum", "zero"] = "neg_log_sum"
    """Cost so far: Σ −log s over the steps, or 0."""
    h: Literal["neg_log_last", "zero"] = "neg_log_last"
    """Estimated cost to go: −log s of the last step, or 0 (uniform-cost search)."""


def step_cost(score: float) -> float:
    return -math.log(min(max(score, CLIP), 1.0))


class AStarDecoding(StepSearch[AStarConfig]):
    """A*-decoding: expand the partial solution with the lowest f = g + h first."""

    name = "astar_decoding"
    Config = AStarConfig

    async def search(self, expander: Expander) -> Outcome:
        config = self.config
        queue: list[tuple[float, int, Node]] = [(0.0, 0, Node())]
        g_of: dict[str, float] = {Node().id: 0.0}
        popped: list[dict] = []
        found: Node | None = None
        expansions = 0
        while queue:
            f, order, node = heapq.heappop(queue)
            popped.append({"id": node.id, "f": f})
            if node.finished:
                found = node
                break
            if expansions >= config.max_expansions:
                expander.meter.stopped_by = expander.meter.stopped_by or "max_expansions"
                heapq.heappush(queue, (f, order, node))
                break
            plan = expander.affordable([Expansion(node, config.k, (expansions,))])
            if not plan:
                heapq.heappush(queue, (f, order, node))
                break
            expansions += 1
            (children,) = await expander.expand(plan)
            for child in children:
                cost = step_cost(child.scores[-1])
                g = g_of[node.id] + (cost if config.g == "neg_log_sum" else 0.0)
                h = cost if config.h == "neg_log_last" else 0.0
                g_of[child.id] = g
                child = child.annotated({"astar_f": g + h, "astar_g": g})
                expander.remember(child)
                heapq.heappush(queue, (g + h, child.order, child))
        rest = sorted(queue, key=lambda item: (item[0], item[1]))
        ended = [node for _, _, node in rest if node.finished]
        best_partial = [node for _, _, node in rest[:1]]
        pool = [found, *ended] if found is not None else (ended or best_partial)
        return Outcome(pool, {"expansions": expansions, "popped": popped,
                              "found": found is not None})


@hookimpl
def ttc_register_components(register: RegisterComponent) -> None:
    register(AStarDecoding)
