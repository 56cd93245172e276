"""``arithmetic_check``: score each candidate by the share of the arithmetic it states that
is right (``arithmetic_claims``), for ``weighted_best_of_n`` or a filter to use."""

from __future__ import annotations

from pydantic import Field

from ttc.candidate import Candidate
from ttc.component import Component, ComponentConfig, Effect
from ttc.context import ComponentContext
from ttc.plugin_system import hookimpl
from ttc.plugins.verifiers.arithmetic_claims import claims
from ttc.registry import RegisterComponent
from ttc.state import State

SCORE = "arithmetic_check"


class ArithmeticCheckConfig(ComponentConfig):
    no_claims: float = Field(default=0.5, ge=0.0, le=1.0)
    """The score of a candidate that states no equation (nothing to check)."""


class ArithmeticCheck(Component[ArithmeticCheckConfig]):
    """Re-checks every ``a op b = c`` a candidate writes; its score is the share that holds."""

    name = "arithmetic_check"
    kind = "verifier"
    effect = Effect.ANNOTATES
    needs_candidates = True
    uses_model = False
    Config = ArithmeticCheckConfig

    async def run(self, state: State, ctx: ComponentContext) -> State:
        config = self.config
        return state.with_pool(self._check(c, config) for c in state.pool)

    @staticmethod
    def _check(candidate: Candidate, config: ArithmeticCheckConfig) -> Candidate:
        found = claims(candidate.text)
        score = (sum(c.correct for c in found) / len(found)) if found else config.no_claims
        record = [{"expression": c.expression, "stated": c.stated, "value": c.value,
                   "correct": c.correct} for c in found]
        return candidate.with_scores(**{SCORE: score}).with_artifact(SCORE, record)


@hookimpl
def ttc_register_components(register: RegisterComponent) -> None:
    register(ArithmeticCheck)
