"""``wait_continuation``: append a cue ("Wait") to each finished answer and let the model
continue from there (docs/methods.md RF4, Self-Correction Bench).

The prompt is the rendered conversation followed by the candidate's text and the cue, so
generation continues the same assistant turn over the cached prefix. The new candidate's text
starts with the original text plus the cue; its parent is the original. Its token statistics
are left out: they would describe the continuation only, not the whole text.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from pydantic import Field

from ttc.candidate import Candidate
from ttc.component import Component, ComponentConfig, Effect
from ttc.context import ComponentContext
from ttc.plugin_system import hookimpl
from ttc.registry import RegisterComponent
from ttc.runtime import GenerateRequest, SamplingParams
from ttc.state import State


class WaitConfig(ComponentConfig):
    cue: str = "Wait"
    """Appended to the assistant's text before generation continues."""
    separator: str = "\n\n"
    """Put between the original text and the cue."""
    rounds: int = Field(default=1, ge=1, le=16)
    """Cues appended one after another (each continuation gets its own)."""
    max_new_tokens: int = Field(default=256, ge=1, le=32768)
    """The most tokens generated after the cue."""
    temperature: float = Field(default=0.0, ge=0.0, le=5.0)
    """Sampling temperature; 0 is greedy decoding."""


class WaitContinuation(Component[WaitConfig]):
    """"Wait" continuation: appends a cue to each answer and continues generating."""

    name = "wait_continuation"
    kind = "refiner"
    effect = Effect.PRODUCES
    needs_candidates = True
    Config = WaitConfig

    async def run(self, state: State, ctx: ComponentContext) -> State:
        prompt = await ctx.render(state.task.as_messages())
        pool = await asyncio.gather(*(self._continue(ctx, prompt, c) for c in state.pool))
        return state.with_pool(pool)

    async def _continue(self, ctx: ComponentContext, prompt: str,
                        original: Candidate) -> Candidate:
        config = self.config
        text = original.text
        finish = None
        seed = ctx.seed("wait", original.id)
        for r in range(config.rounds):
            text = text + config.separator + config.cue
            (completion,) = await ctx.generate(GenerateRequest(
                prompt=prompt + text,
                params=SamplingParams(max_tokens=config.max_new_tokens,
                                      temperature=config.temperature,
                                      seed=ctx.seed("wait", original.id, r))))
            text += completion.text
            finish = completion.finish_reason
        candidate = ctx.candidate(text, parents=(original.id,), seed=seed, key=original.id)
        return replace(candidate, finish_reason=finish)


@hookimpl
def ttc_register_components(register: RegisterComponent) -> None:
    register(WaitContinuation)
