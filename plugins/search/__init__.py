"""Step-level search (docs/methods.md §7): beam search, DVTS, particle filtering and A*-decoding
over reasoning steps, guided by step scorers — a plugin kind of its own.

Plugins that add a step scorer subclass one of the classes re-exported here and register
it with ``ttc_register_step_scorers``.
"""

from ttc.plugins.search.step_scorer import (
    Cost,
    IncrementalStepScorer,
    PartialSolution,
    Problem,
    ProcessRewardModel,
    Step,
    StepScorer,
    StepScorerConfig,
)

__all__ = [
    "Cost",
    "IncrementalStepScorer",
    "PartialSolution",
    "Problem",
    "ProcessRewardModel",
    "Step",
    "StepScorer",
    "StepScorerConfig",
]
