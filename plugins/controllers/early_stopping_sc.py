"""``early_stopping_sc``: sample in windows and stop once a window agrees (docs/methods.md B1)."""

from __future__ import annotations

from pydantic import Field, model_validator

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


class EarlyStoppingConfig(ControllerSampling):
    w: int = Field(default=5, ge=1, le=1024)
    """Window size: samples drawn per call."""
    L: int = Field(default=20, ge=1, le=4096)
    """At most this many samples in all."""

    @model_validator(mode="after")
    def _window_fits(self) -> EarlyStoppingConfig:
        if self.w > self.L:
            raise ValueError("the window w cannot exceed the budget L")
        return self


class EarlyStoppingSC(Component[EarlyStoppingConfig]):
    """Early-stopping self-consistency: windows of w samples until one window is unanimous."""

    name = "early_stopping_sc"
    kind = "controller"
    effect = Effect.PRODUCES
    Config = EarlyStoppingConfig

    async def run(self, state: State, ctx: ComponentContext) -> State:
        config = self.config
        prompt = await prompt_of(state, ctx, config)
        pool: list = []
        reason, window = "budget", 0
        while len(pool) < config.L:
            size = min(config.w, config.L - len(pool))
            drawn = await draw_window(ctx, prompt, config, window, size, len(pool))
            pool.extend(drawn)
            window += 1
            groups = ctx.task_format.groups([c.answer for c in drawn])
            if None not in groups and len(set(groups)) == 1:  # a None is disagreement
                reason = "window agreed"
                break
        return with_budget(state, ctx, pool, config.L, reason, windows=window)


@hookimpl
def ttc_register_components(register: RegisterComponent) -> None:
    register(EarlyStoppingSC)
