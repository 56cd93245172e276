"""Step scorer ``arithmetic``: the share of the equations a step states that hold (no model
call), checked exactly by ``ttc.plugins.verifiers.arithmetic_claims`` — the same reading
as the ``arithmetic_check`` verifier, applied to one step at a time.

A step with nothing to check scores ``no_claims``: 1 by default (where the verifier's
default is 0.5), because most steps of a sound solution state no equation, and with
``agg: min`` or ``prod`` a lower value would punish every such step; the scorer finds
errors, it does not reward arithmetic for its own sake.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from ttc.context import ComponentContext
from ttc.plugin_system import hookimpl
from ttc.plugins.search.step_scorer import (
    IncrementalStepScorer,
    PartialSolution,
    Problem,
    StepScorerConfig,
)
from ttc.plugins.verifiers.arithmetic_claims import claims
from ttc.registry import RegisterStepScorer


class ArithmeticConfig(StepScorerConfig):
    no_claims: float = Field(default=1.0, ge=0.0, le=1.0)
    """The score of a step that states no equation."""


def step_arithmetic(text: str, no_claims: float = 1.0) -> float:
    found = claims(text)
    return sum(c.correct for c in found) / len(found) if found else no_claims


class Arithmetic(IncrementalStepScorer[ArithmeticConfig]):
    """The share of a step's ``a op b = c`` that hold (``no_claims`` when it states none)."""

    name = "arithmetic"
    Config = ArithmeticConfig
    uses_model = False

    async def score_last(self, problem: Problem, solutions: Sequence[PartialSolution],
                         ctx: ComponentContext) -> list[float | None]:
        config = self.config
        return [step_arithmetic(s.steps[-1].content, config.no_claims) for s in solutions]


@hookimpl
def ttc_register_step_scorers(register: RegisterStepScorer) -> None:
    register(Arithmetic)
