"""The ledger tells the truth: each repeat round metered apart, logical and prefilled prompt
tokens, served calls, and warnings counted where they happened."""

from __future__ import annotations

from ttc import Component, ComponentConfig, Effect, PluginHost, hookimpl
from ttc.pipeline import Pipeline
from ttc.state import Ledger, RunWarning


class StageReports:
    def __init__(self) -> None:
        self.reports: list = []

    @hookimpl
    def ttc_stage_finished(self, run, stage) -> None:
        self.reports.append(stage)


class Complains(Component):
    """Keeps the pool and records one warning per candidate (a degraded step)."""

    name, kind, effect = "complains", "test", Effect.ANNOTATES
    needs_candidates, uses_model = True, False
    Config = ComponentConfig

    async def run(self, state, ctx):
        for candidate in state.pool:
            ctx.warn("test_degraded", f"could not judge {candidate.id}", candidate=candidate.id)
        return state


class ComplainsPlugin:
    @hookimpl
    def ttc_register_components(self, register) -> None:
        register(Complains)


def run(text: str, *plugins: object, task: str = "What is 2 + 2?"):
    host = PluginHost(load_entry_points=False)
    for plugin in plugins:
        host.register(plugin)
    models = "models: {s: {runtime: scripted, options: {responses: ['4', '5', '4']}}}\n"
    return Pipeline.from_text(models + text, host=host).run(task)


REPEAT = """name: rounds
stages:
  - use: sample
    n: 2
  - repeat:
      max_rounds: 3
      stages:
        - use: sample
          n: 3
"""


def test_each_repeat_round_reports_its_own_calls_tokens_and_time() -> None:
    seen = StageReports()
    result = run(REPEAT, seen)
    rounds = [r for r in seen.reports if r.name == "2-repeat/1-sample"]
    assert [r.round for r in rounds] == [1, 2, 3]
    assert [r.usage.calls for r in rounds] == [1, 1, 1]  # not 1, 2, 3 (the meter so far)
    assert all(r.usage.completion_tokens == 3 for r in rounds)
    assert all(r.usage.wall_time <= r.wall_time + 1e-6 for r in rounds)
    whole = result.ledger.stages["2-repeat/1-sample"]
    assert whole.calls == 3 and whole.completion_tokens == 9
    listed = result.ledger.to_dict()["rounds"]
    assert [(r["stage"], r["round"], r["calls"]) for r in listed] == [
        ("2-repeat/1-sample", 1, 1), ("2-repeat/1-sample", 2, 1), ("2-repeat/1-sample", 3, 1)]
    assert result.ledger.total.calls == 4


def test_an_n_sample_call_counts_its_prompt_once_and_prefills_it_once() -> None:
    result = run("name: n\nstages:\n  - use: sample\n    n: 4\n")
    usage = result.ledger.total
    prompt = usage.prompt_tokens
    assert prompt > 0 and usage.calls == 1
    # the scripted engine prefills once; samples 2-4 report the shared prompt as cached
    assert usage.prefilled_tokens == prompt
    assert usage.to_dict()["prefilled_tokens"] == prompt


def test_a_warning_is_kept_in_order_counted_for_its_stage_and_carried_by_the_result() -> None:
    text = "name: w\nstages:\n  - use: sample\n    n: 2\n  - use: complains\n"
    result = run(text, ComplainsPlugin())
    assert result.status == "succeeded"  # a degraded run still succeeds, with warnings
    assert [w.kind for w in result.warnings] == ["test_degraded", "test_degraded"]
    assert [w.candidate for w in result.warnings] == [c.id for c in result.pool]
    assert all(w.stage == "2-complains" and w.component == "complains"
               for w in result.warnings)
    assert result.ledger.stages["2-complains"].warnings == 2
    assert result.ledger.stages["1-sample"].warnings == 0
    assert result.ledger.total.warnings == 2
    data = result.to_dict()
    assert data["warnings"] == [w.to_dict() for w in result.warnings]
    assert data["ledger"]["warnings"] == data["warnings"]
    assert data["ledger"]["stages"]["2-complains"]["warnings"] == 2


def test_a_stage_of_one_round_is_its_own_meter() -> None:
    ledger = Ledger()
    ledger.meter("1-a").calls += 2
    ledger.meter("2-r/1-b", 1).calls += 1
    ledger.meter("2-r/1-b", 2).calls += 1
    ledger.warn(RunWarning("k", "m", "2-r/1-b", "b", round=2))
    assert ledger.stage("2-r/1-b").calls == 2 and ledger.stage("1-a").calls == 2
    assert ledger.meter("2-r/1-b", 2).warnings == 1 and ledger.total.warnings == 1
    assert list(ledger.stages) == ["1-a", "2-r/1-b"]
    ledger.stage("1-a").calls += 5  # a sum: adding to it changes nothing
    assert ledger.total.calls == 4
