"""What every budget controller shares: its sampling parameters, drawing one window of
samples, and the budget record it leaves on the state and on each candidate."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import Field

from ttc.candidate import Candidate
from ttc.component import ComponentConfig
from ttc.context import ComponentContext
from ttc.runtime import GenerateRequest, SamplingParams
from ttc.state import State


class ControllerSampling(ComponentConfig):
    temperature: float = Field(default=0.7, ge=0.0, le=5.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    max_tokens: int = Field(default=256, ge=1, le=32768)
    stop: list[str] = Field(default_factory=list)
    top_logprobs: int = Field(default=0, ge=0, le=100)
    """Top logprobs to keep per token (for selectors that need them)."""
    system: str | None = None
    """A system message put before the task's messages."""


async def prompt_of(state: State, ctx: ComponentContext, config: ControllerSampling) -> str:
    messages = state.task.as_messages()
    if config.system:
        messages = [{"role": "system", "content": config.system}, *messages]
    return await ctx.render(messages)


def request(prompt: str, config: ControllerSampling, n: int, seed: int,
            max_tokens: int | None = None) -> GenerateRequest:
    """n samples of ``prompt`` with the controller's sampling fields (``max_tokens`` overrides
    the config's, e.g. for one chunk)."""
    return GenerateRequest(
        prompt=prompt,
        params=SamplingParams(max_tokens=max_tokens or config.max_tokens,
                              temperature=config.temperature,
                              top_p=config.top_p, stop=tuple(config.stop), seed=seed),
        n=n,
        top_logprobs=config.top_logprobs,
    )


async def draw_window(ctx: ComponentContext, prompt: str, config: ControllerSampling,
                      window: int, size: int, first_index: int) -> list[Candidate]:
    """One call for ``size`` samples with a seed of their own; candidates numbered on from
    ``first_index`` so ids stay stable across windows."""
    seed = ctx.seed("window", window)
    completions = await ctx.generate(request(prompt, config, size, seed))
    return [ctx.candidate(c.text, c, sample_index=first_index + i, seed=seed,
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
