"""``self_eval``: one-token self-evaluation, P("Yes") that the candidate is correct
(docs/methods.md V4), stored as the ``self_eval`` score for selectors, refiners and ``until``."""

from __future__ import annotations

from ttc.component import Component, ComponentConfig, Effect
from ttc.context import ComponentContext
from ttc.plugin_system import hookimpl
from ttc.plugins.prompts import self_eval as prompts
from ttc.plugins.verifiers.yes_no_probability import attach_yes_scores, yes_probabilities
from ttc.registry import RegisterComponent
from ttc.state import State

SCORE = "self_eval"


class SelfEvalConfig(ComponentConfig):
    question: str = prompts.QUESTION
    """Asked after the candidate's answer, as the next user turn."""


class SelfEval(Component[SelfEvalConfig]):
    """Self-evaluation: P("Yes") that the candidate's own answer is correct (one token)."""

    name = "self_eval"
    kind = "scorer"
    effect = Effect.ANNOTATES
    needs_candidates = True
    Config = SelfEvalConfig

    async def run(self, state: State, ctx: ComponentContext) -> State:
        config = self.config
        messages = state.task.as_messages()
        rendered = [
            await ctx.render([*messages, {"role": "assistant", "content": c.text},
                              {"role": "user", "content": config.question}])
            for c in state.pool
        ]
        verdicts = await yes_probabilities(ctx, rendered, key=SCORE)
        return attach_yes_scores(state, ctx, verdicts, SCORE, "self-evaluation")


@hookimpl
def ttc_register_components(register: RegisterComponent) -> None:
    register(SelfEval)
