"""Step scorer ``self_eval``: one-token self-evaluation of a partial solution (docs/methods.md V4).

The model is shown its own partial solution as an assistant turn, asked whether the steps
so far are correct, and the score is P("Yes") / (P("Yes") + P("No")) at the first position
of its answer (surface variants summed, as in V1). The conversation up to the partial
solution is the prefix the search's own step prompts already put in the cache. The
probabilities are read from one teacher-forced score call per batch when the runtime can,
else from one one-token generation per solution; a verdict with neither token visible is
None (scored 0 and recorded as unscored), never a silent 0.5.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence

from ttc.context import ComponentContext
from ttc.errors import TTCError
from ttc.plugin_system import hookimpl
from ttc.plugins.search.step_scorer import (
    Cost,
    IncrementalStepScorer,
    PartialSolution,
    Problem,
    StepScorerConfig,
)
from ttc.plugins.verifiers.yes_no_probability import NO, YES, single_token_ids
from ttc.registry import RegisterStepScorer
from ttc.runtime import Capability, GenerateRequest, SamplingParams, ScoreRequest

QUESTION = "Are all the steps above correct so far? Answer Yes or No."
TOP_K = 20


class SelfEvalStepConfig(StepScorerConfig):
    question: str = QUESTION
    """Asked after the partial solution, as the next user turn."""


def _by_score_call(capabilities: frozenset[Capability]) -> bool:
    return {Capability.SCORE, Capability.TOKEN_IDS_LOGPROB} <= capabilities


def yes_share(pairs: Sequence[tuple[int, float]], yes: set[int], no: set[int]) -> float | None:
    p_yes = sum(math.exp(lp) for t, lp in pairs if t in yes)
    p_no = sum(math.exp(lp) for t, lp in pairs if t in no)
    return None if p_yes + p_no <= 0.0 else p_yes / (p_yes + p_no)


class SelfEvalStep(IncrementalStepScorer[SelfEvalStepConfig]):
    """P("Yes") that the steps so far are correct, asked of the model itself."""

    name = "self_eval"
    Config = SelfEvalStepConfig

    def max_cost(self, batch: int, capabilities: frozenset[Capability]) -> Cost:
        if not batch:
            return Cost()
        if _by_score_call(capabilities):
            return Cost(calls=1)
        return Cost(calls=batch, tokens=batch)

    async def score_last(self, problem: Problem, solutions: Sequence[PartialSolution],
                         ctx: ComponentContext) -> list[float | None]:
        config = self.config
        prompts = [await ctx.render([
            *problem.messages,
            {"role": "assistant", "content": problem.prefix + s.text},
            {"role": "user", "content": config.question}]) for s in solutions]
        yes_ids = await single_token_ids(ctx, YES)
        no_ids = tuple(t for t in await single_token_ids(ctx, NO) if t not in yes_ids)
        ids, yes, no = (*yes_ids, *no_ids), set(yes_ids), set(no_ids)
        capabilities = ctx.runtime().capabilities
        if _by_score_call(capabilities):
            results = await ctx.score([ScoreRequest(prompt=p, token_ids_logprob=ids)
                                       for p in prompts])
            return [yes_share(r.next_position.token_ids_logprobs, yes, no) for r in results]
        by_ids = Capability.TOKEN_IDS_LOGPROB in capabilities
        if not by_ids and Capability.TOP_LOGPROBS not in capabilities:
            raise TTCError("step scorer 'self_eval' needs a runtime that scores, or returns "
                           "top logprobs or chosen tokens' logprobs")
        completions = await asyncio.gather(*(ctx.generate(GenerateRequest(
            prompt=p, params=SamplingParams(max_tokens=1, temperature=0.0,
                                            seed=ctx.seed("self_eval_step", p)),
            token_ids_logprob=ids if by_ids else (), top_logprobs=0 if by_ids else TOP_K))
            for p in prompts))
        out: list[float | None] = []
        for (completion,) in completions:
            stats = completion.token_ids_logprobs if by_ids else completion.top_logprobs
            out.append(yes_share(stats[0], yes, no) if stats else None)
        return out


@hookimpl
def ttc_register_step_scorers(register: RegisterStepScorer) -> None:
    register(SelfEvalStep)
