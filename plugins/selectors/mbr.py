"""``mbr``: minimum Bayes risk selection, every other candidate a pseudo-reference
(docs/methods.md S4)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from ttc.candidate import Candidate
from ttc.component import Selection, Selector, SelectorConfig
from ttc.context import ComponentContext
from ttc.extras import check_option
from ttc.plugin_system import hookimpl
from ttc.plugins.selectors import similarity
from ttc.plugins.selectors.voting import argmax_selection
from ttc.registry import RegisterComponent
from ttc.runtime import Capability, GenerateRequest, SamplingParams

DEFAULT_RUBRIC = (
    "You are grading a candidate response against a reference response to the same "
    "instruction. Judge how well the candidate agrees with the reference in content and "
    "correctness, on a scale from 1 (contradicts it) to 10 (equivalent or better)."
)
SCORE = re.compile(r"(?:score|rating)\s*[:=]?\s*(10|[1-9])\b", re.IGNORECASE)
ANY_SCORE = re.compile(r"\b(10|[1-9])\b")


class MBRConfig(SelectorConfig):
    utility: Literal["exact_match", "chrf", "bleu", "rouge_l", "embedding", "llm_judge"] = "chrf"
    """u(hypothesis, reference): equivalent answers (``exact_match``), chrF, BLEU or ROUGE-L
    F1 (lexical, vectorised), cosine of all-MiniLM-L6-v2 embeddings, or a reference-based
    LLM judge (1–10; N(N−1) model calls)."""
    weights: Literal["uniform", "model"] = "uniform"
    """``model`` weights reference j by softmax of its sequence logprob (mbrs)."""
    symmetric: bool = False
    """For ``llm_judge`` only: assume u(i, j) = u(j, i) and make half the calls."""
    rubric: str = DEFAULT_RUBRIC
    """The judge's instructions (``llm_judge``)."""
    judge_max_tokens: int = Field(default=16, ge=1, le=4096)
    """Tokens the judge may write before its score (``llm_judge``)."""

    @model_validator(mode="after")
    def _installed(self) -> MBRConfig:
        check_option(UTILITY_EXTRAS.get(self.utility), f"mbr's utility {self.utility!r}",
                     "set  utility: exact_match or llm_judge")
        return self


UTILITY_EXTRAS = {"chrf": "metrics", "bleu": "metrics", "rouge_l": "metrics",
                  "embedding": "embeddings"}
"""The extras the utilities other than ``exact_match`` and ``llm_judge`` need."""


class MBR(Selector[MBRConfig]):
    """Minimum Bayes risk: the candidate with the highest mean utility against the others."""

    name = "mbr"
    uses_model = True
    """Only the ``llm_judge`` utility calls it."""
    Config = MBRConfig

    async def select(self, pool: tuple[Candidate, ...], ctx: ComponentContext) -> Selection:
        config = self.config
        if len(pool) <= 1:
            return argmax_selection(pool, [0.0] * len(pool), "mbr")
        u = await self.utilities(pool, ctx)
        weights = reference_weights(pool, config.weights)
        expected = expected_utility(u, weights)
        if config.utility == "exact_match":  # no answer agrees with nothing: rank it last
            expected = np.where([c.answer is None for c in pool], -1.0, expected)
        return argmax_selection(pool, list(expected), "mbr",
                                {"utility": config.utility, "weights": config.weights})

    async def utilities(self, pool: Sequence[Candidate], ctx: ComponentContext) -> np.ndarray:
        """u[i, j] = u(y_i; reference y_j) for i ≠ j; the diagonal is NaN (never computed)."""
        config = self.config
        texts = [c.text for c in pool]
        match config.utility:
            case "exact_match":
                return similarity.exact_match_matrix(
                    ctx.task_format.groups([c.answer for c in pool]))
            case "chrf":
                return await asyncio.to_thread(similarity.chrf_matrix, texts)
            case "bleu":
                return await asyncio.to_thread(similarity.bleu_matrix, texts)
            case "rouge_l":
                return await asyncio.to_thread(similarity.rouge_l_matrix, texts)
            case "embedding":
                from ttc.plugins.selectors.embedding import cosine_matrix

                return await asyncio.to_thread(cosine_matrix, texts)
            case "llm_judge":
                return await self._judge(texts, ctx)
        raise AssertionError(config.utility)

    async def _judge(self, texts: Sequence[str], ctx: ComponentContext) -> np.ndarray:
        """One call per (candidate i, reference j), grouped by j so that the calls of one
        reference share the prompt prefix [rubric][instruction][reference]."""
        config = self.config
        size = len(texts)
        constrained = Capability.CONSTRAINED in ctx.runtime().capabilities
        pairs = [(i, j) for j in range(size) for i in range(size)
                 if i != j and (not config.symmetric or i < j)]

        async def judge(i: int, j: int) -> float:
            content = (f"{config.rubric}\n\n# Instruction\n{ctx.task.question}\n\n"
                       f"# Reference response\n{texts[j]}\n\n# Candidate response\n{texts[i]}"
                       "\n\nReply with 'Score: N', N from 1 to 10.")
            prompt = await ctx.render([{"role": "user", "content": content}])
            request = GenerateRequest(
                prompt=prompt + "Score: " if constrained else prompt,
                params=SamplingParams(max_tokens=2 if constrained else config.judge_max_tokens,
                                      temperature=0.0, seed=ctx.seed("mbr-judge", i, j)),
                regex=r"(10|[1-9])" if constrained else None,
            )
            (completion,) = await ctx.generate(request)
            return parse_score(completion.text if not constrained
                               else "Score: " + completion.text)

        values = await asyncio.gather(*(judge(i, j) for i, j in pairs))
        u = np.full((size, size), np.nan)
        for (i, j), value in zip(pairs, values, strict=True):
            u[i, j] = value
            if config.symmetric:
                u[j, i] = value
        return u


def parse_score(text: str) -> float:
    """The judge's 1–10 score; an unreadable verdict counts as the lowest score."""
    labelled = SCORE.findall(text)
    if labelled:
        return float(labelled[-1])
    loose = ANY_SCORE.findall(text)
    return float(loose[0]) if loose else 1.0


def reference_weights(pool: Sequence[Candidate], mode: str) -> np.ndarray:
    """Uniform, or softmax over the references' sequence logprobs."""
    if mode == "uniform":
        return np.ones(len(pool))
    logp = np.array([sum(c.tokens.logprobs) if c.tokens else 0.0 for c in pool])
    logp -= logp.max()
    weights = np.exp(logp)
    return weights / weights.sum()


def expected_utility(u: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Σ_{j≠i} w_j u(i, j) / Σ_{j≠i} w_j for each hypothesis i (the diagonal left out)."""
    w = np.broadcast_to(weights[None, :], u.shape).copy()
    np.fill_diagonal(w, 0.0)
    masked = np.where(np.isnan(u), 0.0, u)
    denom = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (masked * w).sum(axis=1) / denom, 0.0)


@hookimpl
def ttc_register_components(register: RegisterComponent) -> None:
    register(MBR)
