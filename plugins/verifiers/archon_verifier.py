"""``verifier``: Archon's two-call verifier (METHODS V2).

Per candidate, call 1 reasons about whether the response answers the query; call 2 sees the
query, response and reasoning and says ``[Correct]`` or ``[Incorrect]`` (constrained where
the runtime can). Passing candidates are kept; ``first_k`` stops calling after k passes; if
none pass, the pool goes on unchanged (Archon's rule).
"""

from __future__ import annotations

import asyncio
import re

from pydantic import Field

from ttc.candidate import Candidate
from ttc.component import Component, ComponentConfig, Effect
from ttc.context import ComponentContext
from ttc.plugin_system import hookimpl
from ttc.plugins.critics.critique import critique_of
from ttc.plugins.prompts import verifier as prompts
from ttc.plugins.structured.ask import ask, record_parse_failure
from ttc.runtime import GenerateRequest, SamplingParams
from ttc.state import State

SCORE = "verifier"
_VERDICT = re.compile(r"\b(correct|incorrect)\b", re.IGNORECASE)


def parse_verdict(reply: str) -> bool | None:
    """True for [Correct], False for [Incorrect]; the first verdict word counts."""
    m = _VERDICT.search(reply)
    return None if m is None else m.group(1).lower() == "correct"


class VerifierConfig(ComponentConfig):
    first_k: int | None = Field(default=None, ge=1)
    """Stop after this many candidates pass (candidates are then checked in pool order)."""
    temperature: float = Field(default=0.0, ge=0.0, le=5.0)
    max_tokens: int = Field(default=256, ge=1, le=32768)
    """Tokens for the reasoning call."""
    use_critiques: bool = False
    """Show each candidate's critique to the verdict call."""
    retries: int = Field(default=2, ge=0, le=10)
    """Extra verdict calls when the verdict cannot be read."""
    samples: int = Field(default=1, ge=1, le=1)
    """Archon's ``samples`` (one verdict per candidate)."""


class Verifier(Component):
    """Archon verifier: reasoning, then a [Correct]/[Incorrect] verdict; keeps the passes."""

    name = "verifier"
    kind = "verifier"
    effect = Effect.SELECTS
    needs_candidates = True
    Config = VerifierConfig

    async def run(self, state: State, ctx: ComponentContext) -> State:
        config: VerifierConfig = self.config  # type: ignore[assignment]
        pool = state.pool
        checked: list[Candidate] = []
        if config.first_k is None:
            results = await asyncio.gather(*(self._check(state, ctx, c) for c in pool))
        else:
            results = []
            for candidate in pool:
                results.append(await self._check(state, ctx, candidate))
                if sum(1 for passed, _ in results if passed) >= config.first_k:
                    break
        for candidate, (passed, reply) in zip(pool, results, strict=False):
            if passed is None:
                state = record_parse_failure(state, ctx, "verdict", reply, candidate.id)
            checked.append(candidate.with_scores(**{SCORE: 1.0 if passed else 0.0}))
        ctx.remember(checked)
        passes = [c for c in checked if c.scores[SCORE] == 1.0]
        if not passes:
            return state  # Archon: if none pass, every candidate is passed on unchanged
        return state.with_pool(passes)

    async def _check(self, state: State, ctx: ComponentContext, candidate: Candidate):
        config: VerifierConfig = self.config  # type: ignore[assignment]
        question = state.task.question
        prompt = await ctx.render([{"role": "user", "content": prompts.reasoning_prompt(
            question, candidate.text)}])
        (reasoning,) = await ctx.generate(GenerateRequest(
            prompt=prompt, params=SamplingParams(max_tokens=config.max_tokens,
                                                 temperature=config.temperature,
                                                 seed=ctx.seed("reason", candidate.id))))
        critique = critique_of(candidate) if config.use_critiques else None
        verdict_prompt = await ctx.render([{"role": "user", "content": prompts.verdict_prompt(
            question, candidate.text, reasoning.text, critique)}])
        reply = await ask(ctx, verdict_prompt, parse_verdict, key=("verdict", candidate.id),
                          max_tokens=8, temperature=config.temperature, retries=config.retries,
                          regex=prompts.VERDICT_REGEX)
        return reply.value, reply


@hookimpl
def ttc_register_components(register) -> None:
    register(Verifier)
