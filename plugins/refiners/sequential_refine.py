"""``sequential_refine``: n chains in sequence, each checking and improving the earlier
ones, weighted by inverse entropy for the vote (docs/methods.md RF3, S8).

Every chain has the same ``max_tokens``, so the completion budget equals n parallel chains.
Each chain is stored with an ``inverse_entropy`` score (1/H over its renormalised top-k);
vote with ``select: {use: inverse_entropy_vote}``.
"""

from __future__ import annotations

from pydantic import Field

from ttc.candidate import Candidate
from ttc.component import Component, ComponentConfig, Effect
from ttc.context import ComponentContext
from ttc.plugin_system import hookimpl
from ttc.plugins.prompts import refine as prompts
from ttc.plugins.selectors.inverse_entropy_vote import MIN_ENTROPY, topk_entropy_bits
from ttc.registry import RegisterComponent
from ttc.runtime import Capability, GenerateRequest, SamplingParams
from ttc.state import State

SCORE = "inverse_entropy"


class SequentialRefineConfig(ComponentConfig):
    n: int = Field(default=4, ge=1, le=64)
    """Chains, drawn one after another."""
    k: int = Field(default=20, ge=1, le=100)
    """Top-k logprobs per token, for the entropy."""
    temperature: float = Field(default=0.7, ge=0.0, le=5.0)
    """Sampling temperature; 0 is greedy decoding."""
    max_tokens: int = Field(default=256, ge=1, le=32768)
    """Tokens per chain (the same as each of n parallel chains)."""


class SequentialRefine(Component[SequentialRefineConfig]):
    """Sequential refinement: chain i sees chains 1..i−1; scored by inverse entropy."""

    name = "sequential_refine"
    kind = "refiner"
    effect = Effect.PRODUCES
    needs = frozenset({Capability.TOP_LOGPROBS})
    Config = SequentialRefineConfig

    async def run(self, state: State, ctx: ComponentContext) -> State:
        config = self.config
        chains: list[Candidate] = []
        for i in range(config.n):
            if i == 0:
                prompt = await ctx.render(state.task.as_messages())
            else:
                prompt = await ctx.render([{"role": "user", "content": prompts.sequential_prompt(
                    state.task.question, [c.text for c in chains])}])
            seed = ctx.seed("chain", i)
            (completion,) = await ctx.generate(GenerateRequest(
                prompt=prompt, top_logprobs=config.k,
                params=SamplingParams(max_tokens=config.max_tokens,
                                      temperature=config.temperature, seed=seed)))
            entropy = topk_entropy_bits(completion.top_logprobs or (), config.k)
            chain = ctx.candidate(completion.text, completion,
                                  parents=tuple(c.id for c in chains), sample_index=i, seed=seed)
            chains.append(chain.with_scores(**{SCORE: 1.0 / max(entropy, MIN_ENTROPY)}))
        return state.with_pool(chains)


@hookimpl
def ttc_register_components(register: RegisterComponent) -> None:
    register(SequentialRefine)
