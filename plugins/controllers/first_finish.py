"""``first_finish``: race n samples and keep the first m to finish (docs/methods.md B4)."""

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
from ttc.registry import RegisterComponent
from ttc.runtime import Capability, Completion
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


class FirstFinish(Component[FirstFinishConfig]):
    """First-finish search: n samples race, the first m to finish are kept, the rest cancelled.

    Without cancellation on the runtime, all n are drawn in one batch and the m shortest
    finished traces are kept, which is what a race would have returned.

    The race replays without re-racing (docs/methods.md B4). The live rule: wait until m samples
    have finished, then keep the m shortest (then lowest index) of *every* sample finished
    by that moment, and cancel the rest. Exactly those finished calls are recorded, and the
    gateway serves a recorded call without suspending, so after one turn of the event loop a
    replay (or the call cache) holds all of them at once: the same rule over the same set
    gives the same winners, and the calls the recording cancelled are cancelled again at
    once (started, never finished: no new call is recorded). A *strict* replay still fails
    on those cancelled calls, which the gateway cannot tell apart from new ones without
    making them.
    """

    name = "first_finish"
    kind = "controller"
    effect = Effect.PRODUCES
    Config = FirstFinishConfig

    async def run(self, state: State, ctx: ComponentContext) -> State:
        config = self.config
        prompt = await prompt_of(state, ctx, config)
        if Capability.CANCEL not in ctx.runtime().capabilities:
            drawn = await draw_window(ctx, prompt, config, 0, config.n, 0)
            finished = [c for c in drawn if c.finish_reason != "abort"]
            kept = sorted(finished, key=lambda c: (c.tokens.count if c.tokens else 0,
                                                   c.origin.sample_index))[: config.m]
            return with_budget(state, ctx, kept, config.n, "shortest finished (no cancel)",
                               cancelled=0)

        async def one(i: int) -> tuple[int, int, Completion]:
            seed = ctx.seed("race", i)
            (completion,) = await ctx.generate(request(prompt, config, 1, seed))
            return i, seed, completion

        tasks = [asyncio.create_task(one(i)) for i in range(config.n)]
        try:
            await asyncio.sleep(0)  # every task takes a step: recorded calls are done now
            while len(_finishers(tasks)) < config.m and not all(t.done() for t in tasks):
                await asyncio.wait([t for t in tasks if not t.done()],
                                   return_when=asyncio.FIRST_COMPLETED)
            finishers = _finishers(tasks)
        finally:
            cancelled = sum(1 for t in tasks if not t.done())
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        finishers.sort(key=lambda r: (r[2].completion_tokens, r[0]))
        kept = [ctx.candidate(config.reply(completion.text), completion, sample_index=i, seed=seed,
                              key="race") for i, seed, completion in finishers[: config.m]]
        return with_budget(state, ctx, kept, config.n, "first finishers",
                           cancelled=cancelled, finished=len(finishers),
                           kept_samples=[c.origin.sample_index for c in kept])


def _finishers(tasks: list[asyncio.Task]) -> list[tuple[int, int, Completion]]:
    """The samples finished so far (aborted ones left out); a failed call raises here."""
    out = []
    for task in tasks:
        if task.done() and not task.cancelled():
            i, seed, completion = task.result()  # re-raises a failed call
            if completion.finish_reason != "abort":
                out.append((i, seed, completion))
    return out


@hookimpl
def ttc_register_components(register: RegisterComponent) -> None:
    register(FirstFinish)
