"""A validated recipe: the plan the executor runs (components already instantiated)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ttc.component import Component
from ttc.errors import RecipeIssue, UsageError
from ttc.task_format import TaskFormat

MAX_SEED = 2**63 - 1
"""Seeds are stored as signed 64-bit integers (the run store's BIGINT): a larger one could
not be recorded, so it is refused where it enters (recipe, ``--seed``, ``Pipeline.run``)."""


SELECT_STAGE = "select"
"""The stage name of the recipe's final selection (in the ledger, the store and hooks): no
stage of a recipe may take it."""


def check_seed(seed: object, where: str = "seed") -> int:
    """``seed`` if it is an integer in [0, 2**63-1]; otherwise a UsageError naming ``where``."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise UsageError(f"{where} must be an integer from 0 to 2**63-1 ({MAX_SEED}), "
                         f"not {seed!r}")
    return seed


class Limits(BaseModel):
    """Run limits. A budget that runs out stops the run cleanly (status ``budget_exhausted``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    max_tokens: int | None = Field(default=None, ge=1)
    """Completion tokens the run may generate, over all calls."""
    max_calls: int | None = Field(default=None, ge=1)
    """Model calls the run may make (a request for n samples is one call)."""
    concurrency: int = Field(default=16, ge=1, le=4096)
    """Model calls in flight at once (per pipeline)."""
    retries: int = Field(default=2, ge=0, le=20)
    """Extra attempts for a model call that fails in a way worth retrying (a server error,
    a rate limit, a timeout, a dropped connection; never a refused request). The one retry
    setting: runtimes make one attempt each, the run's call gateway retries."""
    retry_backoff_s: float = Field(default=0.5, ge=0)
    """First wait before a retry; it doubles each attempt (at most 30 s), times a jitter
    factor in [0.5, 1.5), and is never shorter than a server's Retry-After."""
    call_timeout_s: float = Field(default=600.0, gt=0)
    """A call attempt that takes longer fails (and is retried)."""


class StopCondition(BaseModel):
    """When a ``repeat`` block ends early (any condition met ends it)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    agreement: float | None = Field(default=None, gt=0, le=1)
    """Fraction of the pool that shares the leading answer."""
    score: str | None = None
    """A score name; with ``at_least``: stop when the best candidate's score reaches it."""
    at_least: float | None = None
    """The threshold for ``score``."""
    unchanged: bool = False
    """Stop when a round leaves every candidate's text unchanged."""


@dataclass(frozen=True, slots=True)
class ModelBinding:
    alias: str
    runtime: str
    model: str
    options: Any


@dataclass(frozen=True, slots=True)
class StepPlan:
    """One component in a stage."""

    component: Component
    model: str | None
    """The model alias, or None for components that use no model."""
    index: int


@dataclass(frozen=True, slots=True)
class StagePlan:
    name: str
    steps: tuple[StepPlan, ...]


@dataclass(frozen=True, slots=True)
class RepeatPlan:
    name: str
    max_rounds: int
    until: StopCondition
    body: tuple[StagePlan | RepeatPlan, ...]


@dataclass(frozen=True, slots=True)
class Plan:
    name: str
    description: str
    models: dict[str, ModelBinding]
    task_format: TaskFormat
    seed: int
    limits: Limits
    stages: tuple[StagePlan | RepeatPlan, ...]
    select: StepPlan | None
    source: str = "<recipe>"
    text: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[RecipeIssue, ...] = ()
    """What validation accepted but the author should change (e.g. a renamed parameter),
    each with file:line and the fix; ``ttc validate`` and ``ttc run`` print them."""
