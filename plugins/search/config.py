"""The parameters every step-level search shares: how it samples (``ttc.SamplingConfig``),
what a step is and when a solution ends, how steps are scored, and its budget."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from ttc.plugins.search.scorer_spec import StepScorerSpec
from ttc.runtime import Capability
from ttc.sampling_config import SamplingConfig

Aggregation = Literal["last", "min", "prod", "mean"]


class SearchConfig(SamplingConfig):
    temperature: float = Field(default=0.8, ge=0.0, le=5.0)
    """Sampling temperature of every step; 0 is greedy."""
    max_tokens: int = Field(default=2048, ge=1, le=32768)
    """The most tokens one step may generate; a step cut there is continued by the next."""
    delimiter: str = Field(default="\n\n", min_length=1)
    """Where a step ends (kept at the end of the step's text); the next step continues the
    solution after it."""
    max_steps: int = Field(default=40, ge=1, le=1000)
    """Steps a solution may take; a solution that reaches it ends (``max_steps``)."""
    last_step_to_eos: bool = True
    """The last allowed step ignores the delimiter and runs to the end of the solution."""
    answer_pattern: str | None = None
    """A regular expression; a step in which it matches ends the solution (e.g.
    ``"answer is"``)."""
    stop_at_answer: bool = False
    """End a solution at the first step in which the recipe's task format finds an answer
    (useful with formats that need an explicit marker, e.g. ``answer_is``)."""
    scorer: StepScorerSpec = Field(default_factory=StepScorerSpec)
    """The step scorer, ``{use: NAME, model: ALIAS, ...its parameters}`` (docs/search.md
    lists them)."""
    agg: Aggregation = "last"
    """How a solution's step scores become the one value the search ranks by."""
    score_name: str = Field(default="prm", min_length=1, pattern=r"^[^#]+$")
    """Step scores are stored on each candidate as ``NAME#0``, ``NAME#1``, … (what
    ``weighted_best_of_n``'s ``score`` names)."""
    token_budget: int | None = Field(default=None, ge=1)
    """Completion tokens the search may spend (steps and scorer); it stops expanding before
    the next expansion could exceed it, and returns what it has."""
    call_budget: int | None = Field(default=None, ge=1)
    """Model calls the search may make (steps and scorer), planned the same way."""
    scorer_call_budget: int | None = Field(default=None, ge=1)
    """Model calls the step scorer may make (PRM passes), planned the same way."""

    @field_validator("answer_pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return value

    def scorer_capabilities(self) -> frozenset[Capability]:
        """What the search's own model must offer for its scorer: the scorer's needs, unless
        it calls another model (checked when the run starts). A scorer that calls no model
        reads the search's own completions, so its needs apply here."""
        scorer = self.scorer.build()
        if scorer.uses_model and self.scorer.model is not None:
            return frozenset()
        return frozenset(scorer.needs)
