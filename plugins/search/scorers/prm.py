"""Step scorer ``prm``: a process reward model served by a ``prm_endpoint`` model.

``scorer: {use: prm, model: ALIAS}`` where ``ALIAS`` is a ``models:`` entry on the
``prm_endpoint`` runtime (SGLang or an OpenAI-compatible server). One score call per batch
of partial solutions, through the call gateway, so PRM passes are budgeted, counted,
recorded and replayed like any model call.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import ClassVar, Protocol, runtime_checkable

from ttc.context import ComponentContext
from ttc.errors import TTCError
from ttc.plugin_system import hookimpl
from ttc.plugins.search.step_scorer import Cost, ProcessRewardModel, StepScorerConfig
from ttc.registry import RegisterStepScorer
from ttc.runtime import Capability, ScoreRequest


@runtime_checkable
class StepRewardRuntime(Protocol):
    """A runtime whose ``score`` answers with one log reward per step (``prm_endpoint``)."""

    step_rewards: ClassVar[bool]


class PRM(ProcessRewardModel[StepScorerConfig]):
    """A trained PRM behind a reward endpoint: P(step k is correct) for every step."""

    name = "prm"
    needs = frozenset({Capability.SCORE})
    own_model = True

    def max_cost(self, batch: int, capabilities: frozenset[Capability]) -> Cost:
        return Cost(calls=1) if batch else Cost()

    async def rewards(self, question: str, solutions: Sequence[Sequence[str]],
                      ctx: ComponentContext) -> list[list[float | None]]:
        if not isinstance(ctx.runtime(), StepRewardRuntime):
            raise TTCError(f"step scorer 'prm': model {ctx.model!r} is not a reward endpoint; "
                           "declare one (models: {prm: {runtime: prm_endpoint, model: NAME, "
                           "options: {url: ...}}}) and write  scorer: {use: prm, model: prm}")
        results = await ctx.score([ScoreRequest(prompt=question,
                                                continuation=json.dumps(list(steps)))
                                   for steps in solutions])
        return [[math.exp(lp) for lp in result.logprobs] for result in results]


@hookimpl
def ttc_register_step_scorers(register: RegisterStepScorer) -> None:
    register(PRM)
