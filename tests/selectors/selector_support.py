"""Test support: hand-built candidates and a minimal real component context over the
scripted runtime (imported by the selector tests; fixtures live in conftest.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from types import MappingProxyType

from ttc.candidate import Candidate, TokenStats
from ttc.component import Selection, Selector
from ttc.context import ComponentContext, RunContext
from ttc.events import RunInfo
from ttc.plugin_system import default_host
from ttc.plugins.runtimes.scripted import ScriptedOptions, ScriptedRuntime
from ttc.recipe.plan import Limits
from ttc.runtime import Runtime
from ttc.state import Task
from ttc.task_format import NoAnswer, TaskFormat


def candidate(
    index: int,
    answer: str | None = None,
    *,
    text: str | None = None,
    kl: Sequence[float] | None = None,
    logprobs: Sequence[float] | None = None,
    top: Sequence[Sequence[tuple[int, float]]] | None = None,
    exact: bool = True,
    scores: dict[str, float] | None = None,
) -> Candidate:
    """A candidate with just the statistics a test cares about."""
    length = len(kl or logprobs or top or [0])
    tokens = TokenStats(
        ids=tuple(range(length)),
        logprobs=tuple(logprobs if logprobs is not None else [-1.0] * length),
        top_logprobs=None if top is None else tuple(tuple(p) for p in top),
        kl_uniform=None if kl is None else tuple(kl),
        exact=exact,
        runtime="test",
    )
    return Candidate(
        id=f"c{index}",
        text=text if text is not None else f"reasoning {index}; the answer is {answer}",
        answer=answer,
        tokens=tokens,
        scores=MappingProxyType(dict(scores or {})),
    )


def make_context(task_format: TaskFormat | None = None, runtime: Runtime | None = None,
                 question: str = "What is 6*7?") -> ComponentContext:
    runtime = runtime or ScriptedRuntime("scripted", ScriptedOptions())
    task = Task(prompt=question)
    run = RunInfo(run_id="r-test", recipe_name="test", recipe_text="", recipe_hash="",
                  task=task, seed=0)
    run_ctx = RunContext(run=run, runtimes={"m": runtime},
                         task_format=task_format or NoAnswer(), hook=default_host().hook,
                         limits=Limits(), semaphore=asyncio.Semaphore(8))
    return ComponentContext(run_ctx, stage="select", component="test", index=0, model="m")


def select(selector: Selector, pool: Sequence[Candidate], task_format: TaskFormat | None = None,
           runtime: Runtime | None = None) -> Selection:
    """Run one selection synchronously (usable from Hypothesis tests)."""

    async def go() -> Selection:
        return await selector.select(tuple(pool), make_context(task_format, runtime))

    return asyncio.run(go())
