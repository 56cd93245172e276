"""Run one component outside a recipe, on a state you choose, with the same context the
executor gives it: the call gateway, stable seeds and candidate ids, the task format.

The conformance checks are built on this; plugin authors can use it directly to test a
component's behaviour. Nothing here imports plugins until a runtime is needed (the core
never imports ``ttc.plugins`` at import time).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ttc.calls import ModelCall
from ttc.candidate import Candidate, Origin, TokenStats, candidate_id
from ttc.component import Component, Selection
from ttc.context import ComponentContext, RunContext
from ttc.events import RunInfo
from ttc.recipe.plan import Limits
from ttc.runtime import Runtime
from ttc.state import State, Task
from ttc.task_format import NoAnswer, TaskFormat

MODEL = "m"
"""The alias a harnessed component's model has."""
DEFAULT_RESPONSES = ("42",)


@dataclass
class ComponentRun:
    """What one harnessed run of a component gave: its output state, the model calls it made
    (every attempt, as ``ttc_model_called`` saw them), and a selector's decision."""

    state: State
    calls: list[ModelCall] = field(default_factory=list)
    selection: Selection | None = None
    remembered: dict[str, Candidate] = field(default_factory=dict)
    """Candidates the component recorded in the lineage (``ctx.remember``)."""


class _Hooks:
    """The lifecycle hooks of a harnessed run: records model calls, serves no recording."""

    def __init__(self) -> None:
        self.calls: list[ModelCall] = []

    def ttc_recorded_response(self, **_: Any) -> None:
        return None

    def ttc_model_called(self, *, run: RunInfo, call: ModelCall) -> None:
        self.calls.append(call)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("ttc_"):
            return lambda **_: None
        raise AttributeError(name)


def scripted(responses: Sequence[str] = DEFAULT_RESPONSES, **options: Any) -> Runtime:
    """A fresh scripted runtime (``ttc.plugins.runtimes.scripted``): deterministic replies,
    word tokens with exact statistics, every capability. ``options`` are its recipe options
    (``rules``, ``rotate_by_seed``, ``fail_first``, ``latency_s``)."""
    from ttc.plugins.runtimes.scripted import ScriptedOptions, ScriptedRuntime

    return ScriptedRuntime("scripted", ScriptedOptions(responses=list(responses), **options))


def task_format(name: str | TaskFormat | None) -> TaskFormat:
    """A task format by its registered name (``number``, ``text``, …), or None for none."""
    if name is None:
        return NoAnswer()
    if isinstance(name, TaskFormat):
        return name
    from ttc.plugin_system import default_host

    return default_host().registry.task(name)()


def make_task(prompt: str = "What is 2 + 3? Answer with a number.", **fields: Any) -> Task:
    return Task.of({"prompt": prompt, **fields})


def make_pool(texts: Sequence[str], *, answers: Sequence[str | None] | None = None,
              fmt: str | TaskFormat | None = "number", seed: int = 0,
              logprobs: bool = True) -> tuple[Candidate, ...]:
    """Candidates as a generator would have made them: stable ids, origin, an answer read by
    ``fmt`` (or given), and word-token statistics from the scripted runtime's distributions
    (sampled logprobs, top-5 logprobs, exact entropy and KL) unless ``logprobs`` is False."""
    reader = task_format(fmt)
    pool = []
    for i, text in enumerate(texts):
        answer = answers[i] if answers is not None else reader.extract(text)
        pool.append(Candidate(
            id=candidate_id(seed, "kit", "0-pool", 0, 0, i, None),
            text=text, answer=answer,
            origin=Origin(stage="0-pool", component="pool", model=MODEL, seed=seed,
                          sample_index=i),
            tokens=_token_stats(text) if logprobs else None,
            finish_reason="stop",
        ))
    return tuple(pool)


def make_state(texts: Sequence[str] = (), *, task: Task | None = None,
               fmt: str | TaskFormat | None = "number",
               artifacts: Mapping[str, Any] | None = None) -> State:
    return State(task=task or make_task(), pool=make_pool(texts, fmt=fmt),
                 artifacts=MappingProxyType(dict(artifacts or {})))


async def arun_component(
    component: Component, state: State, *, runtime: Runtime | Mapping[str, Runtime] | None = None,
    responses: Sequence[str] = DEFAULT_RESPONSES, fmt: str | TaskFormat | None = "number",
    seed: int = 0, stage: str = "1-stage", index: int = 0, round: int = 0,
    limits: Limits | None = None,
) -> ComponentRun:
    """Run ``component`` once on ``state``. ``runtime`` (default: a fresh scripted runtime
    answering ``responses``) serves the model alias ``m``; pass a mapping to name several."""
    if runtime is None:
        runtime = scripted(responses)
    runtimes = dict(runtime) if isinstance(runtime, Mapping) else {MODEL: runtime}
    hooks = _Hooks()
    run = RunInfo(run_id="r-kit", recipe_name="kit", recipe_text="", recipe_hash="",
                  task=state.task, seed=seed)
    limits = limits or Limits(retries=0)
    run_ctx = RunContext(run=run, runtimes=runtimes, task_format=task_format(fmt), hook=hooks,
                         limits=limits, semaphore=asyncio.Semaphore(limits.concurrency))
    model = MODEL if component.uses_model else None
    if model is not None and model not in runtimes:
        model = next(iter(runtimes), None)
    ctx = ComponentContext(run_ctx, stage, component.name, index, model, round)
    output = await component.run(state, ctx)
    if not isinstance(output, State):
        raise TypeError(f"component {component.name!r} returned {type(output).__name__}, "
                        "not a State")
    return ComponentRun(output, hooks.calls, run_ctx.selection, dict(run_ctx.candidates))


def run_component(component: Component, state: State, **kwargs: Any) -> ComponentRun:
    """``arun_component`` from synchronous code (on ttc's background event loop)."""
    from ttc.background_loop import run_sync

    return run_sync(arun_component(component, state, **kwargs))


def _token_stats(text: str) -> TokenStats:
    from ttc.plugins.runtimes.scripted import logprob_of, position_stats, token_id

    ids = tuple(token_id(w) for w in text.split())
    stats = [position_stats(t, 5, ()) for t in ids]
    return TokenStats(ids=ids, logprobs=tuple(logprob_of(t) for t in ids),
                      top_logprobs=tuple(s.top_logprobs for s in stats),
                      entropy=tuple(float(s.entropy or 0.0) for s in stats),
                      kl_uniform=tuple(float(s.kl_uniform or 0.0) for s in stats),
                      exact=True, runtime="scripted")
