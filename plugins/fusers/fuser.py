"""``fuser``: one synthesis of the whole pool (mixture-of-agents, docs/methods.md C3).

The fused candidates are new (their ``parents`` are every input) and carry no critiques:
critiques of the inputs are shown to the fuser when asked for, and stay with the inputs.

``subset_k`` is the fine-grained self-consistency variant (docs/methods.md C3, *Integrate the
Essence and Eliminate the Dross*): only the candidates that agree most with the rest are fused,
so an outlier cannot pull the synthesis off course and the prompt stays short.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from ttc.candidate import Candidate
from ttc.component import Component, ComponentConfig, Effect
from ttc.context import ComponentContext
from ttc.extras import check_option
from ttc.plugin_system import hookimpl
from ttc.plugins.critics.critique import critique_of
from ttc.plugins.prompts import fuser as prompts
from ttc.plugins.selectors.similarity import chrf_matrix, ngram_f1_matrix, rouge_l_matrix
from ttc.registry import RegisterComponent
from ttc.runtime import Capability, GenerateRequest, SamplingParams
from ttc.state import State


class FuserConfig(ComponentConfig):
    samples: int = Field(default=1, ge=1, le=64)
    """Fused responses to draw (each from the same prompt)."""
    temperature: float = Field(default=0.7, ge=0.0, le=5.0)
    """Sampling temperature; 0 is greedy decoding."""
    max_tokens: int = Field(default=512, ge=1, le=32768)
    """The most tokens one call may generate."""
    use_critiques: bool = True
    """Show each input's critique, when a critic wrote one for it."""
    length_control: bool = False
    """Cap the output at the token length of the longest input."""
    subset_k: int | None = Field(default=None, ge=1)
    """Fine-grained self-consistency: fuse only the ``subset_k`` candidates with the highest
    mean similarity to the others (ties in pool order; kept in pool order). Each input gets
    the score ``fsc_consensus``; the fused candidates' parents are the subset. None fuses
    the whole pool (Archon)."""
    subset_similarity: Literal["ngram_f1", "rouge_l", "chrf"] = "ngram_f1"
    """The similarity of the subset: unigram-overlap F1 (GSC's), ROUGE-L F1, or chrF."""

    @model_validator(mode="after")
    def _installed(self) -> FuserConfig:
        if self.subset_k is not None:
            check_option("metrics", "the fuser's subset_k",
                         "remove subset_k (fuse the whole pool)")
        return self


SIMILARITIES: dict[str, Callable[[Sequence[str]], np.ndarray]] = {
    "ngram_f1": ngram_f1_matrix, "rouge_l": rouge_l_matrix, "chrf": chrf_matrix}
SUBSET_SCORE = "fsc_consensus"


def consensus(texts: Sequence[str], similarity: str = "ngram_f1") -> list[float]:
    """Each text's mean similarity to the others (0.0 for a lone text)."""
    if len(texts) < 2:
        return [0.0] * len(texts)
    matrix = SIMILARITIES[similarity](texts)
    return [float(np.nanmean(row)) for row in matrix]


def similar_subset(scores: Sequence[float], k: int) -> list[int]:
    """Indices of the ``k`` highest scores (ties: earlier first), in their original order."""
    best = sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:k]
    return sorted(best)


class Fuser(Component[FuserConfig]):
    """Fuser: synthesises one better response from the pool (and its critiques)."""

    name = "fuser"
    kind = "fuser"
    effect = Effect.PRODUCES
    needs_candidates = True
    Config = FuserConfig

    def required_capabilities(self) -> frozenset[Capability]:
        """``length_control`` counts the inputs' tokens with the fuser model's tokenizer."""
        if self.config.length_control:
            return self.needs | {Capability.TOKENIZE}
        return self.needs

    async def run(self, state: State, ctx: ComponentContext) -> State:
        config = self.config
        pool = state.pool
        if not pool:
            return state
        if config.subset_k is not None:
            pool = await self._subset(pool, ctx, config.subset_k, config.subset_similarity)
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

    async def _subset(self, pool: tuple[Candidate, ...], ctx: ComponentContext, k: int,
                      similarity: str) -> tuple[Candidate, ...]:
        """The mutually similar subset to fuse; every input keeps its consensus score in the
        lineage, so the inspector shows why an input was left out."""
        scores = await asyncio.to_thread(consensus, [c.text for c in pool], similarity)
        scored = [c.with_scores(**{SUBSET_SCORE: s}) for c, s in zip(pool, scores, strict=True)]
        ctx.remember(scored)
        return tuple(scored[i] for i in similar_subset(scores, k))

    async def _longest(self, pool: Sequence[Candidate], ctx: ComponentContext) -> int:
        """Tokens of the longest input, counted with the fuser's own tokenizer (inputs may
        come from other models)."""
        runtime = ctx.runtime()
        return max([len(await runtime.tokenize(c.text)) for c in pool])


@hookimpl
def ttc_register_components(register: RegisterComponent) -> None:
    register(Fuser)
