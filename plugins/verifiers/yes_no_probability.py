"""P(Yes) at the first answer position, from the Yes/No token logprobs (docs/methods.md V1, V4).

s = p_Y / (p_Y + p_N), summing surface variants ("Yes", " Yes", "yes", …). The
probabilities are read, in order of preference, from a teacher-forced score of the next
position (``ctx.score``, one batched call), from a one-token generation's
``token_ids_logprobs`` or top logprobs, and only when neither token is visible from one
constrained (or parsed) token, recorded as such. A verdict that cannot be read is None,
never a silent 0.5.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ttc.context import ComponentContext
from ttc.plugins.structured.ask import Reply, record_parse_failure
from ttc.runtime import Capability, GenerateRequest, SamplingParams, ScoreRequest
from ttc.state import State

YES = ("Yes", " Yes", "yes", " yes", "YES")
NO = ("No", " No", "no", " no", "NO")
TOP_K = 20


@dataclass(frozen=True, slots=True)
class Verdict:
    probability: float | None
    """P(Yes) / (P(Yes) + P(No)); None when the verdict could not be read at all."""
    source: str
    """``score``, ``token_ids``, ``top_logprobs``, ``constrained``, ``text`` or ``missing``."""


async def single_token_ids(ctx: ComponentContext, variants: Sequence[str]) -> tuple[int, ...]:
    """Ids of the variants the tokenizer writes as one token (others cannot be read from one
    position)."""
    runtime = ctx.runtime()
    ids: list[int] = []
    for text in variants:
        tokens = await runtime.tokenize(text)
        if len(tokens) == 1 and tokens[0] not in ids:
            ids.append(tokens[0])
    return tuple(ids)


def _ratio(pairs: Sequence[tuple[int, float]], yes: set[int], no: set[int]) -> float | None:
    p_yes = sum(math.exp(lp) for t, lp in pairs if t in yes)
    p_no = sum(math.exp(lp) for t, lp in pairs if t in no)
    if p_yes + p_no <= 0.0:
        return None
    return p_yes / (p_yes + p_no)


async def yes_probabilities(ctx: ComponentContext, prompts: Sequence[str], *,
                            key: str = "yes_no", yes: Sequence[str] = YES,
                            no: Sequence[str] = NO) -> list[Verdict]:
    """One verdict per rendered prompt (each ends where the Yes/No answer begins)."""
    if not prompts:
        return []
    yes_ids = await single_token_ids(ctx, yes)
    no_ids = tuple(t for t in await single_token_ids(ctx, no) if t not in yes_ids)
    ids = (*yes_ids, *no_ids)
    ys, ns = set(yes_ids), set(no_ids)
    caps = ctx.runtime().capabilities
    verdicts: list[Verdict | None] = [None] * len(prompts)
    if ids and Capability.SCORE in caps and Capability.TOKEN_IDS_LOGPROB in caps:
        results = await ctx.score([ScoreRequest(prompt=p, token_ids_logprob=ids)
                                   for p in prompts])
        for i, result in enumerate(results):
            s = _ratio(result.next_position.token_ids_logprobs, ys, ns)
            verdicts[i] = None if s is None else Verdict(s, "score")
    elif ids and (Capability.TOKEN_IDS_LOGPROB in caps or Capability.TOP_LOGPROBS in caps):
        by_ids = Capability.TOKEN_IDS_LOGPROB in caps
        completions = await asyncio.gather(*(ctx.generate(GenerateRequest(
            prompt=p, params=SamplingParams(max_tokens=1, temperature=0.0,
                                            seed=ctx.seed(key, i)),
            token_ids_logprob=ids if by_ids else (), top_logprobs=0 if by_ids else TOP_K))
            for i, p in enumerate(prompts)))
        for i, (completion,) in enumerate(completions):
            stats = completion.token_ids_logprobs if by_ids else completion.top_logprobs
            if stats:
                s = _ratio(stats[0], ys, ns)
                verdicts[i] = None if s is None else Verdict(
                    s, "token_ids" if by_ids else "top_logprobs")
    missing = [i for i, v in enumerate(verdicts) if v is None]
    fallbacks = await asyncio.gather(*(_one_token(ctx, prompts[i], key, i) for i in missing))
    for i, verdict in zip(missing, fallbacks, strict=True):
        verdicts[i] = verdict
    return [v if v is not None else Verdict(None, "missing") for v in verdicts]


async def _one_token(ctx: ComponentContext, prompt: str, key: str, index: int) -> Verdict:
    """Neither token visible: decode the answer itself (constrained where possible)."""
    constrained = Capability.CONSTRAINED in ctx.runtime().capabilities
    (completion,) = await ctx.generate(GenerateRequest(
        prompt=prompt,
        params=SamplingParams(max_tokens=1 if constrained else 4, temperature=0.0,
                              seed=ctx.seed(key, "fallback", index)),
        regex="Yes|No" if constrained else None))
    m = re.match(r"\s*(yes|no)\b", completion.text, re.IGNORECASE)
    if m is None:
        return Verdict(None, "missing")
    return Verdict(1.0 if m.group(1).lower() == "yes" else 0.0,
                   "constrained" if constrained else "text")


def attach_yes_scores(state: State, ctx: ComponentContext, verdicts: Sequence[Verdict],
                      score_name: str, what: str) -> State:
    """Put each readable P(Yes) on its candidate under ``score_name``; record the unreadable
    ones as parse failures (the candidate stays, unscored)."""
    pool = []
    for candidate, verdict in zip(state.pool, verdicts, strict=True):
        if verdict.probability is None:
            state = record_parse_failure(
                state, ctx, what,
                Reply(None, "", 1, False, "neither Yes nor No was readable"), candidate.id)
            pool.append(candidate)
        else:
            pool.append(candidate.with_scores(**{score_name: verdict.probability}))
    return state.with_pool(pool)
