"""``yes_no_verifier``: a one-call verifier scored from the Yes/No token probabilities
(docs/methods.md V1). Annotates each candidate with ``score_name`` = P(Yes)/(P(Yes)+P(No))."""

from __future__ import annotations

from pydantic import Field

from ttc.component import Component, ComponentConfig, Effect
from ttc.context import ComponentContext
from ttc.plugin_system import hookimpl
from ttc.plugins.prompts import verifier as prompts
from ttc.plugins.verifiers.yes_no_probability import (
    NO,
    YES,
    attach_yes_scores,
    yes_probabilities,
)
from ttc.registry import RegisterComponent
from ttc.state import State


class YesNoConfig(ComponentConfig):
    score_name: str = "yes_no"
    """The score the probability is stored under."""
    yes_tokens: list[str] = Field(default_factory=lambda: list(YES))
    """Surface forms of Yes; their probabilities are summed."""
    no_tokens: list[str] = Field(default_factory=lambda: list(NO))
    """Surface forms of No; their probabilities are summed."""


class YesNoVerifier(Component[YesNoConfig]):
    """Yes/No verifier: P("Yes") that a candidate answers the question, from one position."""

    name = "yes_no_verifier"
    kind = "verifier"
    effect = Effect.ANNOTATES
    needs_candidates = True
    Config = YesNoConfig

    async def run(self, state: State, ctx: ComponentContext) -> State:
        config = self.config
        question = state.task.question
        rendered = [await ctx.render([{"role": "user",
                                       "content": prompts.yes_no_prompt(question, c.text)}])
                    for c in state.pool]
        verdicts = await yes_probabilities(ctx, rendered, key=config.score_name,
                                           yes=config.yes_tokens, no=config.no_tokens)
        return attach_yes_scores(state, ctx, verdicts, config.score_name, "yes/no verdict")


@hookimpl
def ttc_register_components(register: RegisterComponent) -> None:
    register(YesNoVerifier)
