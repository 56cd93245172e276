"""``first``: keep the first candidate of the pool (e.g. after a ranker or a fuser)."""

from __future__ import annotations

from ttc.candidate import Candidate
from ttc.component import Selection, Selector, SelectorConfig
from ttc.context import ComponentContext
from ttc.plugin_system import hookimpl
from ttc.registry import RegisterComponent


class First(Selector[SelectorConfig]):
    """Keeps the pool's first candidate: for pools a ranker or fuser already ordered."""

    name = "first"

    async def select(self, pool: tuple[Candidate, ...], ctx: ComponentContext) -> Selection:
        if not pool:
            return Selection(winner=None, answer=None)
        scores = {c.id: float(len(pool) - i) for i, c in enumerate(pool)}
        return Selection(winner=pool[0].id, answer=pool[0].answer, scores=scores,
                         score_name="position", order=tuple(c.id for c in pool))


@hookimpl
def ttc_register_components(register: RegisterComponent) -> None:
    register(First)
