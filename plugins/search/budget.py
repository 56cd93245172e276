"""What a search spends and may still spend: a meter of the policy's and the scorer's calls
and tokens, and the check that the next expansion's worst case fits every budget that
applies (the component's own and the recipe's ``limits``).

Expansions are planned against their worst case (every step runs to ``max_tokens``, the
scorer makes as many calls as it may), so no budget is ever exceeded; the gateway's
retries of a failed call are the one thing a plan cannot foresee.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from ttc.context import ComponentContext
from ttc.plugins.search.step_scorer import Cost
from ttc.runtime import Completion, GenerateRequest, ScoreRequest, ScoreResult


@dataclass
class Usage:
    calls: int = 0
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0

    def to_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class Meter:
    """Calls and tokens of one search, split between the policy (``generation``) and the
    step scorer (``scorer``), against the search's budgets."""

    token_budget: int | None = None
    call_budget: int | None = None
    scorer_call_budget: int | None = None
    generation: Usage = field(default_factory=Usage)
    scorer: Usage = field(default_factory=Usage)
    stopped_by: str | None = None
    """Why the search stopped expanding early (``token_budget``, ``limits.max_calls``, …)."""

    @property
    def tokens(self) -> int:
        return self.generation.completion_tokens + self.scorer.completion_tokens

    @property
    def calls(self) -> int:
        return self.generation.calls + self.scorer.calls

    def count(self, role: str, kind: str, response: Sequence[Any]) -> None:
        usage = self.scorer if role == "scorer" else self.generation
        usage.calls += 1
        if not response:
            return
        if kind == "generate":  # n samples share one prompt, read once
            usage.prompt_tokens += response[0].prompt_tokens
            usage.cached_tokens += response[0].cached_tokens
            usage.completion_tokens += sum(len(c.token_ids) for c in response)
        else:
            usage.prompt_tokens += sum(r.prompt_tokens for r in response)
            usage.cached_tokens += sum(r.cached_tokens for r in response)

    def blocker(self, cost: Cost, ctx: ComponentContext) -> str | None:
        """The first budget the worst case ``cost`` would exceed, or None when it fits."""
        run = ctx.run_ctx
        limits = run.limits
        checks = (
            ("token_budget", self.token_budget, self.tokens + cost.tokens),
            ("call_budget", self.call_budget, self.calls + cost.calls),
            ("scorer_call_budget", self.scorer_call_budget, self.scorer.calls + cost.scorer_calls),
            # the gateway refuses any call once the run's tokens reach max_tokens, so a
            # round whose scoring follows its generation must leave at least one token
            ("limits.max_tokens", limits.max_tokens,
             run.ledger.total.completion_tokens + cost.tokens + (1 if cost.scorer_calls else 0)),
            ("limits.max_calls", limits.max_calls, run.calls_started + cost.calls),
        )
        for name, budget, needed in checks:
            if budget is not None and needed > budget:
                return name
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "generation": self.generation.to_dict(),
            "scorer": self.scorer.to_dict(),
            "calls": self.calls,
            "completion_tokens": self.tokens,
            "token_budget": self.token_budget,
            "call_budget": self.call_budget,
            "scorer_call_budget": self.scorer_call_budget,
            "stopped_by": self.stopped_by,
        }


@dataclass
class MeteredContext(ComponentContext):
    """A component context whose model calls are also counted on a search's meter, as the
    policy's or the scorer's."""

    meter: Meter = field(default_factory=Meter)
    role: str = "generation"

    @classmethod
    def of(cls, ctx: ComponentContext, meter: Meter, role: str, *,
           component: str | None = None, model: str | None = None) -> MeteredContext:
        base = {f.name: getattr(ctx, f.name) for f in fields(ComponentContext)}
        if component is not None:
            base["component"] = component
        if model is not None:
            base["model"] = model
        return cls(**base, meter=meter, role=role)

    async def generate(self, request: GenerateRequest, *, model: str | None = None
                       ) -> list[Completion]:
        completions = await super().generate(request, model=model)
        self.meter.count(self.role, "generate", completions)
        return completions

    async def score(self, requests: Sequence[ScoreRequest], *, model: str | None = None
                    ) -> list[ScoreResult]:
        results = await super().score(requests, model=model)
        self.meter.count(self.role, "score", results)
        return results
