"""Test components, a keyed runtime and scripted recipes for the run-store tests."""

from __future__ import annotations

from typing import ClassVar

from ttc.candidate import Candidate
from ttc.component import Component, ComponentConfig, Effect
from ttc.context import ComponentContext
from ttc.plugin_system import PluginHost, hookimpl
from ttc.plugins.runtimes.scripted import ScriptedOptions, ScriptedRuntime
from ttc.runtime import GenerateRequest, RuntimeOptions, SamplingParams
from ttc.state import State

# --- test components and runtimes ------------------------------------------------------------


class ReviseConfig(ComponentConfig):
    note: str = "revise"


class Revise(Component):
    """Rewrites every candidate with one model call each: new candidates with parents."""

    name: ClassVar[str] = "test_revise"
    kind: ClassVar[str] = "refiner"
    effect: ClassVar[Effect] = Effect.PRODUCES
    needs_candidates: ClassVar[bool] = True
    Config: ClassVar[type[ComponentConfig]] = ReviseConfig

    async def run(self, state: State, ctx: ComponentContext) -> State:
        out: list[Candidate] = []
        for i, candidate in enumerate(state.pool):
            request = GenerateRequest(prompt=f"{self.config.note}: {candidate.text}",
                                      params=SamplingParams(seed=ctx.seed(i)))
            (completion,) = await ctx.generate(request)
            out.append(ctx.candidate(completion.text, completion, parents=(candidate.id,),
                                     sample_index=i).with_scores(length=len(completion.text)))
        return state.with_pool(out)


class KeyedOptions(ScriptedOptions):
    api_key: str = ""
    """A secret the store must never hold."""


class KeyedRuntime(ScriptedRuntime):
    """The scripted runtime with an API key option, for the secrets test."""

    name: ClassVar[str] = "keyed"
    Options: ClassVar[type[RuntimeOptions]] = KeyedOptions

    @classmethod
    def create(cls, model: str, options: RuntimeOptions) -> KeyedRuntime:
        return cls(model, options)  # type: ignore[arg-type]


class StorageTestPlugin:
    @hookimpl
    def ttc_register_components(self, register) -> None:
        register(Revise)

    @hookimpl
    def ttc_register_runtimes(self, register) -> None:
        register(KeyedRuntime)


_host: PluginHost | None = None


def storage_host() -> PluginHost:
    """One host with the test components (registering twice would clash)."""
    global _host
    if _host is None:
        _host = PluginHost(load_entry_points=False)
        _host.register(StorageTestPlugin(), name="storage-tests")
    return _host


def recipe(*, selector: str = "majority", latency: float = 0.0, samples: int = 3,
           revise: bool = True, tag: str = "", extra_stages: int = 0) -> str:
    """A scripted recipe: sample, (revise), select. ``tag`` makes the runtime options (and
    so the process-wide runtime instance, and its call counter) unique to a test."""
    stages = [f"  - use: sample\n    model: m\n    n: {samples}\n    temperature: 0.8\n"]
    if revise:
        stages.append("  - use: test_revise\n    model: m\n")
    for i in range(extra_stages):
        stages.append(f"  - use: sample\n    model: m\n    n: 1\n    system: stage {i}\n")
    return (
        "name: storage-test\n"
        "models:\n  m:\n    runtime: scripted\n    model: scripted-" + (tag or "x") + "\n"
        "    options:\n"
        "      responses: ['The answer is 4', 'The answer is 5', 'The answer is 4']\n"
        "      rotate_by_seed: true\n"
        f"      latency_s: {latency}\n"
        "task: number\n"
        "seed: 11\n"
        "stages:\n" + "".join(stages) + f"select:\n  use: {selector}\n"
    )
