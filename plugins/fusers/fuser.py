"""``fuser``: one synthesis of the whole pool (Archon C3, mixture-of-agents).

The fused candidates are new (their ``parents`` are every input) and carry no critiques:
critiques of the inputs are shown to the fuser when asked for, and stay with the inputs.
"""

from __future__ import annotations

from pydantic import Field

from ttc.component import Component, ComponentConfig, Effect
from ttc.context import ComponentContext
from ttc.plugin_system import hookimpl
from ttc.plugins.critics.critique import critique_of
from ttc.plugins.prompts import fuser as prompts
from ttc.runtime import GenerateRequest, SamplingParams
from ttc.state import State


class FuserConfig(ComponentConfig):
    samples: int = Field(default=1, ge=1, le=64)
    """Fused responses to draw (each from the same prompt)."""
    temperature: float = Field(default=0.7, ge=0.0, le=5.0)
    max_tokens: int = Field(default=512, ge=1, le=32768)
    use_critiques: bool = True
    """Show each input's critique, when a critic wrote one for it."""
    length_control: bool = False
    """Cap the output at the token length of the longest input."""


class Fuser(Component):
    """Fuser: synthesises one better response from the pool (and its critiques)."""

    name = "fuser"
    kind = "fuser"
    effect = Effect.PRODUCES
    needs_candidates = True
    Config = FuserConfig

    async def run(self, state: State, ctx: ComponentContext) -> State:
        config: FuserConfig = self.config  # type: ignore[assignment]
        pool = state.pool
        if not pool:
            return state
        critiques = [critique_of(c) for c in pool] if config.use_critiques else None
        content = prompts.prompt(state.task.question, [c.text for c in pool], critiques)
        prompt = await ctx.render([{"role": "user", "content": content}])
        max_tokens = config.max_tokens
        if config.length_control:
            max_tokens = min(max_tokens, max(1, await self._longest(pool, ctx)))
        seed = ctx.seed("fuser")
        completions = await ctx.generate(GenerateRequest(
            prompt=prompt, n=config.samples,
            params=SamplingParams(max_tokens=max_tokens, temperature=config.temperature,
                                  seed=seed)))
        parents = tuple(c.id for c in pool)
        return state.with_pool(
            ctx.candidate(c.text, c, parents=parents, sample_index=i, seed=seed)
            for i, c in enumerate(completions))

    async def _longest(self, pool, ctx: ComponentContext) -> int:
        """Tokens of the longest input, counted with the fuser's own tokenizer (inputs may
        come from other models)."""
        runtime = ctx.runtime()
        return max([len(await runtime.tokenize(c.text)) for c in pool])


@hookimpl
def ttc_register_components(register) -> None:
    register(Fuser)
