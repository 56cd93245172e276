"""``sample``: draw n completions of the task's prompt (Archon's generator, docs/methods.md G1)."""

from __future__ import annotations

from pydantic import Field

from ttc.component import Component, Effect
from ttc.context import ComponentContext
from ttc.plugin_system import hookimpl
from ttc.registry import RegisterComponent
from ttc.sampling_config import SamplingConfig
from ttc.state import State


class SampleConfig(SamplingConfig):
    n: int = Field(default=1, ge=1, le=1024)
    """How many completions to draw; they share one prefill."""
    hedged: bool = False
    """Add one greedy sample to the n (docs/methods.md G1, hedged sampling)."""


class Sample(Component[SampleConfig]):
    """Draws n completions of the task's prompt; the n share one prefill."""

    name = "sample"
    kind = "generator"
    effect = Effect.PRODUCES
    Config = SampleConfig

    async def run(self, state: State, ctx: ComponentContext) -> State:
        config = self.config
        prompt = await config.prompt(state, ctx)
        seed = ctx.seed("sample")
        completions = await ctx.generate(config.request(prompt, n=config.n, seed=seed))
        pool = [
            ctx.candidate(config.reply(c.text), c, sample_index=i, seed=seed)
            for i, c in enumerate(completions)
        ]
        if config.hedged:
            (best,) = await ctx.generate(config.request(prompt, seed=seed, temperature=0.0))
            pool.append(ctx.candidate(config.reply(best.text), best, sample_index=config.n,
                                      seed=seed, key="greedy"))
        return state.with_pool(pool)


@hookimpl
def ttc_register_components(register: RegisterComponent) -> None:
    register(Sample)
