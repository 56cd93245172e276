"""``sample``: draw n completions of the task's prompt (Archon's generator, METHODS G1)."""

from __future__ import annotations

from pydantic import Field

from ttc.component import Component, ComponentConfig, Effect
from ttc.context import ComponentContext
from ttc.plugin_system import hookimpl
from ttc.runtime import GenerateRequest, SamplingParams
from ttc.state import State


class SampleConfig(ComponentConfig):
    n: int = Field(default=1, ge=1, le=1024)
    """How many completions to draw; they share one prefill."""
    temperature: float = Field(default=0.7, ge=0.0, le=5.0)
    """0 is greedy decoding."""
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    top_k: int = Field(default=0, ge=0)
    """0 disables top-k truncation."""
    min_p: float = Field(default=0.0, ge=0.0, le=1.0)
    max_tokens: int = Field(default=256, ge=1, le=32768)
    stop: list[str] = Field(default_factory=list)
    top_logprobs: int = Field(default=0, ge=0, le=100)
    """Top logprobs to keep per token (for selectors that need them)."""
    system: str | None = None
    """A system message put before the task's messages."""
    hedged: bool = False
    """Add one greedy sample to the n (METHODS G1, hedged sampling)."""


class Sample(Component):
    """Draws n completions of the task's prompt; the n share one prefill."""

    name = "sample"
    kind = "generator"
    effect = Effect.PRODUCES
    Config = SampleConfig

    async def run(self, state: State, ctx: ComponentContext) -> State:
        config: SampleConfig = self.config  # type: ignore[assignment]
        messages = state.task.as_messages()
        if config.system:
            messages = [{"role": "system", "content": config.system}, *messages]
        prompt = await ctx.render(messages)
        seed = ctx.seed("sample")
        params = SamplingParams(
            max_tokens=config.max_tokens,
            temperature=config.temperature,
            top_p=config.top_p,
            top_k=config.top_k,
            min_p=config.min_p,
            stop=tuple(config.stop),
            seed=seed,
        )
        request = GenerateRequest(prompt=prompt, params=params, n=config.n,
                                  top_logprobs=config.top_logprobs)
        completions = await ctx.generate(request)
        pool = [
            ctx.candidate(c.text, c, sample_index=i, seed=seed)
            for i, c in enumerate(completions)
        ]
        if config.hedged:
            greedy = GenerateRequest(
                prompt=prompt,
                params=SamplingParams(max_tokens=config.max_tokens, temperature=0.0,
                                      stop=tuple(config.stop), seed=seed),
                top_logprobs=config.top_logprobs,
            )
            (best,) = await ctx.generate(greedy)
            pool.append(ctx.candidate(best.text, best, sample_index=config.n, seed=seed,
                                      key="greedy"))
        return state.with_pool(pool)


@hookimpl
def ttc_register_components(register) -> None:
    register(Sample)
