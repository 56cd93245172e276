"""``generator``: Archon's generator (docs/methods.md G1, §9). Several ``generator`` entries in one
stage make an ensemble: their candidates are concatenated in declaration order."""

from __future__ import annotations

from pydantic import Field

from ttc.component import Component, ComponentConfig, Effect
from ttc.context import ComponentContext
from ttc.plugin_system import hookimpl
from ttc.registry import RegisterComponent
from ttc.runtime import GenerateRequest, SamplingParams
from ttc.state import State


class GeneratorConfig(ComponentConfig):
    samples: int = Field(default=1, ge=1, le=1024)
    """Completions drawn from this entry's model (Archon ``samples``)."""
    temperature: float = Field(default=0.7, ge=0.0, le=5.0)
    """Sampling temperature; 0 is greedy decoding."""
    max_tokens: int = Field(default=256, ge=1, le=32768)
    """The most tokens one call may generate."""
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    """Nucleus sampling: keep the smallest set of tokens with this much probability."""
    system: str | None = None
    """A system message put before the task's messages (Archon's ``no_system`` leaves it out)."""
    top_logprobs: int = Field(default=0, ge=0, le=100)
    """Top logprobs kept per token, for selectors that need them."""
    stop: list[str] = Field(default_factory=list)
    """Strings that end a completion (not included in its text)."""


class Generator(Component[GeneratorConfig]):
    """Archon generator: `samples` completions from one model; several entries in one stage
    form an ensemble."""

    name = "generator"
    kind = "generator"
    effect = Effect.PRODUCES
    Config = GeneratorConfig

    async def run(self, state: State, ctx: ComponentContext) -> State:
        config = self.config
        messages = state.task.as_messages()
        if config.system:
            messages = [{"role": "system", "content": config.system}, *messages]
        prompt = await ctx.render(messages)
        seed = ctx.seed("generator")
        request = GenerateRequest(
            prompt=prompt,
            n=config.samples,
            top_logprobs=config.top_logprobs,
            params=SamplingParams(max_tokens=config.max_tokens, temperature=config.temperature,
                                  top_p=config.top_p, stop=tuple(config.stop), seed=seed),
        )
        completions = await ctx.generate(request)
        return state.with_pool(
            ctx.candidate(c.text, c, sample_index=i, seed=seed) for i, c in enumerate(completions)
        )


@hookimpl
def ttc_register_components(register: RegisterComponent) -> None:
    register(Generator)
