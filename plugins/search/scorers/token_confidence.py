"""Step scorers ``mean_logprob`` and ``self_certainty``: how sure the policy was while it
wrote the step, read from the step's own token statistics (no model call).

- ``mean_logprob``: exp of the mean sampled-token logprob, the step's geometric-mean token
  probability, in (0, 1].
- ``self_certainty``: the mean KL(uniform‖p) over the step's tokens (docs/methods.md S2, exact
  from the full distribution), which is unbounded, squashed to 1 − exp(−KL) in [0, 1) —
  monotone, so rankings are those of self-certainty itself.

A step without tokens (or without the statistics) is None: unscored. An infinite KL (a
−∞ logit) is certainty 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ttc.context import ComponentContext
from ttc.plugin_system import hookimpl
from ttc.plugins.search.step_scorer import (
    IncrementalStepScorer,
    PartialSolution,
    Problem,
    StepScorerConfig,
)
from ttc.registry import RegisterStepScorer
from ttc.runtime import Capability


class MeanLogprob(IncrementalStepScorer[StepScorerConfig]):
    """exp(mean logprob) of the step's tokens: its geometric-mean token probability."""

    name = "mean_logprob"
    uses_model = False
    needs = frozenset({Capability.LOGPROBS})

    async def score_last(self, problem: Problem, solutions: Sequence[PartialSolution],
                         ctx: ComponentContext) -> list[float | None]:
        out: list[float | None] = []
        for solution in solutions:
            completion = solution.steps[-1].completion
            logprobs = () if completion is None else completion.logprobs
            out.append(math.exp(sum(logprobs) / len(logprobs)) if logprobs else None)
        return out


class SelfCertainty(IncrementalStepScorer[StepScorerConfig]):
    """1 − exp(−mean KL(uniform‖p)) over the step's tokens: self-certainty in [0, 1)."""

    name = "self_certainty"
    uses_model = False
    needs = frozenset({Capability.FULL_DISTRIBUTION})

    async def score_last(self, problem: Problem, solutions: Sequence[PartialSolution],
                         ctx: ComponentContext) -> list[float | None]:
        out: list[float | None] = []
        for solution in solutions:
            completion = solution.steps[-1].completion
            kl = None if completion is None else completion.kl_uniform
            if not kl or any(math.isnan(x) for x in kl):
                out.append(None)
                continue
            out.append(1.0 - math.exp(-max(sum(kl) / len(kl), 0.0)))
        return out


@hookimpl
def ttc_register_step_scorers(register: RegisterStepScorer) -> None:
    register(MeanLogprob)
    register(SelfCertainty)
