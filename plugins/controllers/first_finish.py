"""``first_finish``: race n samples and keep the first m to finish (METHODS B4)."""

from __future__ import annotations

import asyncio

from pydantic import Field, model_validator

from ttc.component import Component, Effect
from ttc.context import ComponentContext
from ttc.plugin_system import hookimpl
from ttc.plugins.controllers.sampling_window import (
    ControllerSampling,
    draw_window,
    prompt_of,
    request,
    with_budget,
)
from ttc.runtime import Capability
from ttc.state import State


class FirstFinishConfig(ControllerSampling):
    n: int = Field(default=8, ge=1, le=1024)
    """Samples in flight."""
    m: int = Field(default=1, ge=1, le=1024)
    """Finishers kept (vote over them with a selector, e.g. majority)."""

    @model_validator(mode="after")
    def _m_fits(self) -> FirstFinishConfig:
        if self.m > self.n:
            raise ValueError("m (finishers kept) cannot exceed n (samples in flight)")
        return self


class FirstFinish(Component):
    """First-finish search: n samples race, the first m to finish are kept, the rest cancelled.

    Without cancellation on the runtime, all n are drawn in one batch and the m shortest
    finished traces are kept, which is what a race would have returned.
    """

    name = "first_finish"
    kind = "controller"
    effect = Effect.PRODUCES
    Config = FirstFinishConfig

    async def run(self, state: State, ctx: ComponentContext) -> State:
        config: FirstFinishConfig = self.config  # type: ignore[assignment]
        prompt = await prompt_of(state, ctx, config)
        if Capability.CANCEL not in ctx.runtime().capabilities:
            drawn = await draw_window(ctx, prompt, config, 0, config.n, 0)
            finished = [c for c in drawn if c.finish_reason != "abort"]
            kept = sorted(finished, key=lambda c: (c.tokens.count if c.tokens else 0,
                                                   c.origin.sample_index))[: config.m]
            return with_budget(state, ctx, kept, config.n, "shortest finished (no cancel)",
                               cancelled=0)

        async def one(i: int):
            seed = ctx.seed("race", i)
            (completion,) = await ctx.generate(request(prompt, config, 1, seed))
            return i, seed, completion

        tasks = [asyncio.create_task(one(i)) for i in range(config.n)]
        kept = []
        try:
            for next_done in asyncio.as_completed(tasks):
                i, seed, completion = await next_done
                if completion.finish_reason == "abort":
                    continue
                kept.append(ctx.candidate(completion.text, completion, sample_index=i,
                                          seed=seed, key="race"))
                if len(kept) == config.m:
                    break
        finally:
            cancelled = sum(1 for t in tasks if not t.done())
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        # finishing order on a real engine tracks length; order the kept ones by it
        kept.sort(key=lambda c: (c.tokens.count if c.tokens else 0, c.origin.sample_index))
        return with_budget(state, ctx, kept, config.n, "first finishers",
                           cancelled=cancelled)


@hookimpl
def ttc_register_components(register) -> None:
    register(FirstFinish)
