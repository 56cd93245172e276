"""``verifier``: Archon's two-call verifier (docs/methods.md V2).

Per candidate, call 1 reasons about whether the response answers the query; call 2 sees the
query, response and reasoning and says ``[Correct]`` or ``[Incorrect]`` (constrained where
the runtime can). Passing candidates are kept; ``first_k`` stops calling after k passes; if
none pass, the pool goes on unchanged (Archon's rule).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence

from pydantic import Field

from ttc.candidate import Candidate
from ttc.component import Component, ComponentConfig, Effect
from ttc.context import ComponentContext
from ttc.plugin_system import hookimpl
from ttc.plugins.critics.critique import critique_of
from ttc.plugins.prompts import verifier as prompts
from ttc.plugins.structured.ask import RETRIES_RENAMED, Reply, ask, record_parse_failure
from ttc.registry import RegisterComponent
from ttc.runtime import GenerateRequest, SamplingParams
from ttc.state import State

SCORE = "verifier"
_VERDICT = re.compile(r"\b(correct|incorrect)\b", re.IGNORECASE)


def parse_verdict(reply: str) -> bool | None:
    """True for [Correct], False for [Incorrect]; the first verdict word counts."""
    m = _VERDICT.search(reply)
    return None if m is None else m.group(1).lower() == "correct"


def combine_verdicts(verdicts: Sequence[bool | None]) -> float:
    """The share of readable verdicts that pass (0.0 when none is readable)."""
    readable = [v for v in verdicts if v is not None]
    return sum(readable) / len(readable) if readable else 0.0


def passes_majority(score: float) -> bool:
    """A strict majority of the readable verdicts said [Correct] (a tie fails)."""
    return score > 0.5


class VerifierConfig(ComponentConfig):
    first_k: int | None = Field(default=None, ge=1)
    """Stop after this many candidates pass (candidates are then checked in pool order)."""
    temperature: float = Field(default=0.0, ge=0.0, le=5.0)
    """Sampling temperature; 0 is greedy decoding."""
    max_tokens: int = Field(default=256, ge=1, le=32768)
    """Tokens for the reasoning call."""
    use_critiques: bool = False
    """Show each candidate's critique to the verdict call."""
    parse_retries: int = Field(default=2, ge=0, le=10)
    """Re-asks when the verdict cannot be read; a verdict never read is a run warning."""
    renamed = RETRIES_RENAMED
    samples: int = Field(default=1, ge=1, le=16)
    """Archon's ``samples``: (reasoning, verdict) pairs sampled per candidate, each with its
    own seed (use ``temperature`` > 0 or they repeat). The ``verifier`` score is the share
    of readable verdicts that say [Correct]; a candidate passes on a strict majority
    (score > 0.5; a tie fails). Unreadable verdicts are left out and recorded; a candidate
    with none readable fails."""


class Verifier(Component[VerifierConfig]):
    """Archon verifier: reasoning, then a [Correct]/[Incorrect] verdict; keeps the passes."""

    name = "verifier"
    kind = "verifier"
    effect = Effect.SELECTS
    needs_candidates = True
    Config = VerifierConfig

    async def run(self, state: State, ctx: ComponentContext) -> State:
        config = self.config
        pool = state.pool
        checked: list[Candidate] = []
        if config.first_k is None:
            results = await asyncio.gather(*(self._check(state, ctx, c) for c in pool))
        else:
            results = []
            for candidate in pool:
                results.append(await self._check(state, ctx, candidate))
                if sum(1 for score, _ in results if passes_majority(score)) >= config.first_k:
                    break
        for candidate, (score, replies) in zip(pool, results, strict=False):
            for s, reply in enumerate(replies):
                if reply.value is None:
                    what = "verdict" if s == 0 else f"verdict (sample {s})"
                    state = record_parse_failure(state, ctx, what, reply, candidate.id)
            checked.append(candidate.with_scores(**{SCORE: score}))
        ctx.remember(checked)
        passes = [c for c in checked if passes_majority(c.scores[SCORE])]
        if not passes:
            return state  # Archon: if none pass, every candidate is passed on unchanged
        return state.with_pool(passes)

    async def _check(self, state: State, ctx: ComponentContext,
                     candidate: Candidate) -> tuple[float, list[Reply[bool]]]:
        """(share of readable verdicts that pass, every verdict reply) over ``samples``."""
        config = self.config
        replies = list(await asyncio.gather(*(
            self._verdict(state, ctx, candidate, s) for s in range(config.samples))))
        return combine_verdicts([r.value for r in replies]), replies

    async def _verdict(self, state: State, ctx: ComponentContext, candidate: Candidate,
                       sample: int) -> Reply[bool]:
        """One (reasoning, verdict) pair; sample 0 keeps the seeds of ``samples: 1``."""
        config = self.config
        suffix = () if sample == 0 else ("sample", sample)
        question = state.task.question
        prompt = await ctx.render([{"role": "user", "content": prompts.reasoning_prompt(
            question, candidate.text)}])
        (reasoning,) = await ctx.generate(GenerateRequest(
            prompt=prompt, params=SamplingParams(
                max_tokens=config.max_tokens, temperature=config.temperature,
                seed=ctx.seed("reason", candidate.id, *suffix))))
        critique = critique_of(candidate) if config.use_critiques else None
        verdict_prompt = await ctx.render([{"role": "user", "content": prompts.verdict_prompt(
            question, candidate.text, reasoning.text, critique)}])
        return await ask(ctx, verdict_prompt, parse_verdict,
                         key=("verdict", candidate.id, *suffix), max_tokens=8,
                         temperature=config.temperature, parse_retries=config.parse_retries,
                         regex=prompts.VERDICT_REGEX)


@hookimpl
def ttc_register_components(register: RegisterComponent) -> None:
    register(Verifier)
