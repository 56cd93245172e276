"""What every budget controller shares: its sampling parameters, drawing one window of
samples, and the budget record it leaves on the state and on each candidate."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ttc.candidate import Candidate
from ttc.context import ComponentContext
from ttc.runtime import GenerateRequest
from ttc.sampling_config import SamplingConfig
from ttc.state import State


class ControllerSampling(SamplingConfig):
    """The sampling fields every controller shares (see ``ttc.SamplingConfig``)."""


async def prompt_of(state: State, ctx: ComponentContext, config: ControllerSampling) -> str:
    return await config.prompt(state, ctx)


def request(prompt: str, config: ControllerSampling, n: int, seed: int,
            max_tokens: int | None = None) -> GenerateRequest:
    """n samples of ``prompt`` with the controller's sampling fields (``max_tokens`` overrides
    the config's, e.g. for one chunk)."""
    return config.request(prompt, n=n, seed=seed, max_tokens=max_tokens)


async def draw_window(ctx: ComponentContext, prompt: str, config: ControllerSampling,
                      window: int, size: int, first_index: int) -> list[Candidate]:
    """One call for ``size`` samples with a seed of their own; candidates numbered on from
    ``first_index`` so ids stay stable across windows."""
    seed = ctx.seed("window", window)
    completions = await ctx.generate(request(prompt, config, size, seed))
    return [ctx.candidate(config.reply(c.text), c, sample_index=first_index + i, seed=seed,
                          key=("window", window))
            for i, c in enumerate(completions)]


def with_budget(state: State, ctx: ComponentContext, pool: Sequence[Candidate],
                max_samples: int, reason: str, *, tokens_saved: float | None = None,
                **extra: Any) -> State:
    """The new pool plus a budget record: samples and tokens spent, and what stopping early
    saved against drawing ``max_samples`` (tokens estimated at the mean length drawn unless
    the controller knows better and passes ``tokens_saved``)."""
    tokens = sum(c.tokens.count if c.tokens else 0 for c in pool)
    mean = tokens / len(pool) if pool else 0.0
    saved_samples = max(max_samples - len(pool), 0)
    if tokens_saved is None:
        tokens_saved = saved_samples * mean
    record = {
        "samples": len(pool),
        "max_samples": max_samples,
        "samples_saved": saved_samples,
        "completion_tokens": tokens,
        "tokens_saved_estimate": round(tokens_saved, 1),
        "stopped": reason,
        **extra,
    }
    scores = {"budget_samples_saved": float(saved_samples),
              "budget_tokens_saved": float(record["tokens_saved_estimate"])}
    return state.with_pool(c.with_scores(**scores) for c in pool).with_artifact(
        f"budget/{ctx.stage}", record)
