"""``adaptive_sc``: sample until a Beta posterior is confident in the leading answer
(docs/methods.md B2)."""

from __future__ import annotations

from collections import Counter

from pydantic import Field

from ttc.component import Component, Effect
from ttc.context import ComponentContext
from ttc.plugin_system import hookimpl
from ttc.plugins.controllers.sampling_window import (
    ControllerSampling,
    draw_window,
    prompt_of,
    with_budget,
)
from ttc.registry import RegisterComponent
from ttc.state import State


def leader_confidence(groups: list[int | None]) -> float:
    """P(θ > 0.5) for θ ~ Beta(c₁+1, c₂+1), c₁ ≥ c₂ the counts of the top two answers."""
    from scipy.stats import beta

    counts = sorted(Counter(g for g in groups if g is not None).values(), reverse=True)
    c1 = counts[0] if counts else 0
    c2 = counts[1] if len(counts) > 1 else 0
    return float(beta.sf(0.5, c1 + 1, c2 + 1))


class AdaptiveConfig(ControllerSampling):
    C: float = Field(default=0.95, gt=0.0, le=1.0)
    """Stop once P(the leading answer is the majority) reaches this; 1 never stops early."""
    batch: int = Field(default=1, ge=1, le=1024)
    """Samples drawn per call."""
    max_n: int = Field(default=40, ge=1, le=4096)
    """At most this many samples in all."""


class AdaptiveSC(Component[AdaptiveConfig]):
    """Adaptive-consistency: sample in batches until a Beta posterior on the leader passes C."""

    name = "adaptive_sc"
    kind = "controller"
    effect = Effect.PRODUCES
    Config = AdaptiveConfig

    async def run(self, state: State, ctx: ComponentContext) -> State:
        config = self.config
        prompt = await prompt_of(state, ctx, config)
        pool: list = []
        reason, window, confidence = "budget", 0, 0.0
        while len(pool) < config.max_n:
            size = min(config.batch, config.max_n - len(pool))
            pool.extend(await draw_window(ctx, prompt, config, window, size, len(pool)))
            window += 1
            confidence = leader_confidence(ctx.task_format.groups([c.answer for c in pool]))
            if config.C < 1.0 and confidence >= config.C:
                reason = "confident"
                break
        return with_budget(state, ctx, pool, config.max_n, reason,
                           confidence=round(confidence, 6))


@hookimpl
def ttc_register_components(register: RegisterComponent) -> None:
    register(AdaptiveSC)
