"""Test support: run a recipe on the scripted runtime and see every model call it made."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

from ttc import hookimpl
from ttc.calls import ModelCall
from ttc.pipeline import Pipeline
from ttc.plugin_system import PluginHost
from ttc.result import RunResult


class CallLog:
    """Records every model call of the runs it observes."""

    def __init__(self) -> None:
        self.calls: list[ModelCall] = []

    @hookimpl
    def ttc_model_called(self, run, call: ModelCall) -> None:
        self.calls.append(call)

    def prompts(self, component: str | None = None) -> list[str]:
        out = []
        for call in self.calls:
            if component is not None and call.component != component:
                continue
            if call.kind == "generate":
                out.append(call.request.prompt)
            else:
                out.extend(r.prompt for r in call.request)
        return out

    def count(self, component: str) -> int:
        return sum(1 for c in self.calls if c.component == component)


def run_scripted(stages: Sequence[Any], rules: Sequence[tuple[str, Sequence[str]]] = (),
                 responses: Sequence[str] = ("42",), question: str = "What is 6*7?",
                 select: Any = None, task: str | None = None, seed: int = 0,
                 options: dict | None = None, runtime: str = "scripted",
                 plugins: Sequence[Any] = ()) -> tuple[RunResult, CallLog]:
    """Run ``stages`` on a scripted model whose replies follow ``rules`` (first match wins).

    ``runtime`` names a scripted-like runtime registered by one of ``plugins`` (e.g. one that
    declares constrained decoding)."""
    recipe: dict[str, Any] = {
        "name": "scripted-test",
        "models": {"m": {"runtime": runtime, "options": {
            "responses": list(responses),
            "rules": [{"contains": c, "responses": list(r)} for c, r in rules],
            **(options or {})}}},
        "stages": list(stages),
    }
    if task is not None:
        recipe["task"] = task
    if select is not None:
        recipe["select"] = select
    host = PluginHost(load_entry_points=False)
    log = CallLog()
    host.register(log, name="call-log")
    for i, plugin in enumerate(plugins):
        host.register(plugin, name=f"test-plugin-{i}")
    pipeline = Pipeline.from_text(yaml.safe_dump(recipe, sort_keys=False), host=host)
    result = pipeline.run(question, seed=seed)
    return result, log


def component_context(rules: Sequence[tuple[str, Sequence[str]]] = (),
                      responses: Sequence[str] = ("42",), question: str = "What is 6*7?",
                      round_: int = 0):
    """A real ComponentContext over a scripted runtime, for calling a component directly."""
    import asyncio

    from ttc.context import ComponentContext, RunContext
    from ttc.events import RunInfo
    from ttc.plugins.runtimes.scripted import Rule, ScriptedOptions, ScriptedRuntime
    from ttc.recipe.plan import Limits
    from ttc.state import Task
    from ttc.task_format import NoAnswer

    options = ScriptedOptions(responses=list(responses),
                              rules=[Rule(contains=c, responses=list(r)) for c, r in rules])
    runtime = ScriptedRuntime("scripted", options)
    host = PluginHost(load_entry_points=False)
    log = CallLog()
    host.register(log, name="call-log")
    task = Task(prompt=question)
    run = RunInfo(run_id="r-test", recipe_name="test", recipe_text="", recipe_hash="",
                  task=task, seed=0)
    run_ctx = RunContext(run=run, runtimes={"m": runtime}, task_format=NoAnswer(),
                         hook=host.hook, limits=Limits(), semaphore=asyncio.Semaphore(8))
    ctx = ComponentContext(run_ctx, stage="s", component="test", index=0, model="m",
                           round=round_)
    return ctx, log, task
