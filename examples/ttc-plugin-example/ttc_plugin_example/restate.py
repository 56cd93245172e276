"""``restate``: asks the model to restate each candidate in one sentence (a producer that
calls the model: new candidates, each with its source as parent)."""

from __future__ import annotations

import asyncio

from pydantic import Field
from ttc import (
    Candidate,
    Component,
    ComponentConfig,
    ComponentContext,
    Effect,
    GenerateRequest,
    SamplingParams,
    State,
)

PROMPT = "Restate this answer in one short sentence, keeping its final answer:\n\n{text}"


class RestateConfig(ComponentConfig):
    max_tokens: int = Field(default=64, ge=1, le=4096)
    """The most tokens a restatement may take."""
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    """Sampling temperature; 0 is greedy."""


class Restate(Component[RestateConfig]):
    """Restates each candidate in one sentence; the restatement's parent is the original."""

    name = "restate"
    kind = "rewriter"
    effect = Effect.PRODUCES
    needs_candidates = True  # the validator checks that an earlier stage makes some
    Config = RestateConfig

    async def run(self, state: State, ctx: ComponentContext) -> State:
        # one call per candidate, concurrently; gather keeps the pool's order
        restated = await asyncio.gather(*(self._restate(c, ctx) for c in state.pool))
        return state.with_pool(restated)

    async def _restate(self, candidate: Candidate, ctx: ComponentContext) -> Candidate:
        config = self.config
        prompt = await ctx.render([{"role": "user",
                                    "content": PROMPT.format(text=candidate.text)}])
        seed = ctx.seed("restate", candidate.id)  # stable across runs and replays
        params = SamplingParams(max_tokens=config.max_tokens, temperature=config.temperature,
                                seed=seed)
        (completion,) = await ctx.generate(GenerateRequest(prompt=prompt, params=params))
        return ctx.candidate(completion.text, completion, parents=(candidate.id,), seed=seed,
                             key=candidate.id)
