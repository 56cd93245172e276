"""``shortest_majority``: majority voting whose ties go to the answer stated most briefly
(a selector: order-invariant, no model)."""

from __future__ import annotations

from collections.abc import Sequence

from ttc import Candidate, ComponentContext, Selection, Selector, SelectorConfig


class ShortestMajority(Selector[SelectorConfig]):
    """The most common answer; ties go to the answer with the shortest candidate, and the
    winner is that answer's shortest candidate."""

    name = "shortest_majority"

    async def select(self, pool: Sequence[Candidate], ctx: ComponentContext) -> Selection:
        key = ctx.task_format.key
        groups: dict = {}
        for candidate in pool:
            if candidate.answer is not None:
                groups.setdefault(key(candidate.answer), []).append(candidate)
        if not groups:
            return Selection(winner=None, answer=None)

        def brevity(c: Candidate) -> tuple[int, str]:
            return len(c.text), c.text  # the text breaks length ties: no position involved

        best = min(groups.values(), key=lambda g: (-len(g), min(map(brevity, g))))
        winner = min(best, key=brevity)
        votes = {c.id: float(len(groups[key(c.answer)])) if c.answer is not None else 0.0
                 for c in pool}
        return Selection(winner=winner.id, answer=winner.answer, scores=votes,
                         score_name="votes")
