"""The executor: concurrency, determinism, hooks, budgets, retries, repeat blocks, merging."""

from __future__ import annotations

import asyncio

import pytest

from ttc import PluginHost, hookimpl
from ttc.errors import RecipeError
from ttc.pipeline import Pipeline
from ttc.plugins.runtimes.scripted import ScriptedOptions, ScriptedRuntime


class CountingRuntime(ScriptedRuntime):
    """Scripted, slow enough that overlap is observable; counts calls in flight."""

    def __init__(self, **options) -> None:
        super().__init__("scripted", ScriptedOptions(**options))
        self.in_flight = 0
        self.max_in_flight = 0

    async def generate(self, request):
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.05)
            return await super().generate(request)
        finally:
            self.in_flight -= 1


def pipeline(text: str, runtime=None, host=None, **models) -> Pipeline:
    kwargs = {}
    if runtime is not None:
        kwargs["runtimes"] = {"s": runtime}
    if host is not None:
        kwargs["host"] = host
    return Pipeline.from_text("models: {s: {runtime: scripted}}\n" + text, **kwargs)


FOUR_SAMPLERS = """name: c
limits: {concurrency: %d}
stages:
  - [{use: sample}, {use: sample}, {use: sample}, {use: sample}]
"""


def test_components_of_a_stage_run_concurrently():
    runtime = CountingRuntime()
    result = pipeline(FOUR_SAMPLERS % 16, runtime).run("q")
    assert result.status == "succeeded"
    assert runtime.max_in_flight == 4
    assert len(result.pool) == 4


def test_concurrency_limit_bounds_calls_in_flight():
    runtime = CountingRuntime()
    pipeline(FOUR_SAMPLERS % 2, runtime).run("q")
    assert runtime.max_in_flight == 2


def test_producers_of_one_stage_concatenate_in_declaration_order():
    runtime = CountingRuntime(rules=[{"contains": "SYS-B", "responses": ["b"]}],
                              responses=["a"])
    text = ("name: c\nstages:\n  - [{use: sample, n: 2}, {use: sample, system: SYS-B}]\n")
    result = pipeline(text, runtime).run("q")
    assert [c.text for c in result.pool] == ["a", "a", "b"]
    assert [c.origin.sample_index for c in result.pool] == [0, 1, 0]


RECIPE = """name: det
task: number
stages:
  - use: sample
    n: 4
    temperature: 1.0
select: {use: majority}
"""


def test_same_recipe_input_and_seed_give_the_same_run():
    runtime = CountingRuntime(responses=["1", "2", "3"], rotate_by_seed=True)
    p = pipeline(RECIPE, runtime)
    a, b = p.run("q", seed=3), p.run("q", seed=3)
    assert a.to_dict()["candidates"] == b.to_dict()["candidates"]
    assert a.answer == b.answer and a.run_id != b.run_id
    c = p.run("q", seed=4)
    seeds = lambda r: [x.origin.seed for x in r.pool]  # noqa: E731
    assert seeds(a) != seeds(c)


class Events:
    def __init__(self) -> None:
        self.log: list[tuple] = []

    @hookimpl
    def ttc_run_started(self, run):
        self.log.append(("run_started", run.run_id))

    @hookimpl
    def ttc_stage_finished(self, run, stage):
        self.log.append(("stage", stage.name, stage.status, len(stage.pool)))

    @hookimpl
    def ttc_model_called(self, run, call):
        self.log.append(("call", call.stage, call.kind, call.error is None, call.attempt))

    @hookimpl
    def ttc_run_finished(self, run, result):
        self.log.append(("run_finished", result.status))


def host_with(plugin) -> PluginHost:
    host = PluginHost(load_entry_points=False)
    host.register(plugin)
    return host


def test_lifecycle_hooks_fire_in_order():
    events = Events()
    result = pipeline(RECIPE, CountingRuntime(), host_with(events)).run("q")
    assert events.log == [
        ("run_started", result.run_id),
        ("call", "1-sample", "generate", True, 1),
        ("stage", "1-sample", "succeeded", 4),
        ("stage", "select", "succeeded", 1),
        ("run_finished", "succeeded"),
    ]


def test_a_hook_that_raises_does_not_break_the_run():
    class Broken:
        @hookimpl
        def ttc_stage_finished(self, run, stage):
            raise RuntimeError("observer bug")

    assert pipeline(RECIPE, CountingRuntime(), host_with(Broken())).run("q").status == "succeeded"


def test_call_budget_stops_the_run_cleanly_and_still_selects():
    text = ("name: b\ntask: number\nlimits: {max_calls: 1}\nstages:\n  - use: sample\n    n: 3\n"
            "  - use: sample\n    n: 3\nselect: {use: majority}\n")
    runtime = CountingRuntime(responses=["7"])
    result = pipeline(text, runtime).run("q")
    assert result.status == "budget_exhausted"
    assert "call budget" in (result.error or "")
    assert runtime.calls == 1
    assert result.answer == "7"  # selection over what the finished stage produced


def test_token_budget():
    text = ("name: b\nlimits: {max_tokens: 3}\nstages:\n  - use: sample\n    n: 2\n"
            "  - use: sample\n")
    runtime = CountingRuntime(responses=["a b c d"])
    result = pipeline(text, runtime).run("q")
    assert result.status == "budget_exhausted" and runtime.calls == 1
    assert result.ledger.total.completion_tokens == 8


def test_failing_calls_are_retried_then_recorded_as_failed():
    events = Events()
    text = "name: r\nlimits: {retries: 2, retry_backoff_s: 0}\nstages:\n  - use: sample\n"
    ok = pipeline(text, CountingRuntime(fail_first=2), host_with(events)).run("q")
    assert ok.status == "succeeded"
    calls = [e for e in events.log if e[0] == "call"]
    assert [(c[3], c[4]) for c in calls] == [(False, 1), (False, 2), (True, 3)]
    assert ok.ledger.total.failed_calls == 2 and ok.ledger.total.calls == 1

    events.log.clear()
    bad = pipeline(text, CountingRuntime(fail_first=5), host_with(events)).run("q")
    assert bad.status == "failed" and "after 3 attempt(s)" in (bad.error or "")
    assert [e[3] for e in events.log if e[0] == "call"] == [False, False, False]
    assert events.log[-1] == ("run_finished", "failed")


def test_request_errors_are_not_retried():
    events = Events()
    text = "name: r\nstages:\n  - use: sample\n    temperature: 0\n"
    runtime = CountingRuntime()

    async def refuse(request):
        from ttc.runtime import RequestError

        raise RequestError("prompt too long")

    runtime.generate = refuse  # type: ignore[method-assign]
    result = pipeline(text, runtime, host_with(events)).run("q")
    assert result.status == "failed" and "prompt too long" in (result.error or "")
    assert len([e for e in events.log if e[0] == "call"]) == 1


def test_repeat_stops_on_agreement_and_counts_rounds():
    text = ("name: r\ntask: number\nstages:\n  - use: sample\n    n: 2\n"
            "  - repeat:\n      max_rounds: 5\n      until: {agreement: 1.0}\n"
            "      stages:\n        - use: sample\n          n: 3\n")
    runtime = CountingRuntime(responses=["5"])
    result = pipeline(text, runtime).run("q")
    assert runtime.calls == 2  # the first round already agrees
    assert {c.origin.round for c in result.pool} == {1}
    runtime = CountingRuntime(responses=["5", "6"])
    result = pipeline(text, runtime).run("q")
    assert runtime.calls == 6 and {c.origin.round for c in result.pool} == {5}
    assert result.stages == ("1-sample", "2-repeat/1-sample")


def test_batch_keeps_input_order_and_isolates_failures():
    runtime = CountingRuntime(responses=["x"])
    results = pipeline("name: b\nstages:\n  - use: sample\n", runtime).run_batch(
        ["a", "b", {"prompt": "c", "id": "t3"}], concurrency=2)
    assert [r.task.prompt for r in results] == ["a", "b", "c"]
    assert results[2].task.id == "t3"
    assert len({r.run_id for r in results}) == 3


def test_async_api_and_lineage():
    runtime = CountingRuntime(responses=["9"])
    p = pipeline(RECIPE, runtime)

    async def go():
        return await p.arun({"messages": [{"role": "user", "content": "q"}]})

    result = asyncio.run(go())
    assert result.answer == "9"
    winner = result.winner
    assert winner is not None
    assert next(iter(result.lineage(winner.id))) is result.candidates[winner.id]
    assert result.candidates[winner.id].scores["majority"] == 4.0


def test_bad_task_input():
    p = pipeline(RECIPE, CountingRuntime())
    with pytest.raises(ValueError, match="prompt"):
        p.run({"messages": []})
    with pytest.raises(ValueError, match="unknown task field"):
        p.run({"prompt": "x", "answer": "y"})


def test_from_dict_reports_problems_like_yaml():
    with pytest.raises(RecipeError, match="unknown component"):
        Pipeline.from_dict({"name": "d", "models": {"s": {"runtime": "scripted"}},
                            "stages": [{"use": "nope"}]})


def test_recorded_responses_replace_the_model_and_still_spend_the_budget():
    """The replay hook: a recorded response is used instead of the runtime, counted in the
    ledger, reported as replayed, and spends the call budget exactly as the recording did."""
    recorded: dict[str, tuple] = {}

    class Recorder:
        @hookimpl
        def ttc_model_called(self, run, call):
            if call.ok and not call.replayed:
                recorded[call.fingerprint] = call.response

    class Replayer(Events):
        @hookimpl
        def ttc_recorded_response(self, run, fingerprint, kind):
            return recorded.get(fingerprint)

    text = ("name: b\ntask: number\nlimits: {max_calls: 1}\nstages:\n  - use: sample\n    n: 3\n"
            "  - use: sample\n    n: 3\nselect: {use: majority}\n")
    original = pipeline(text, CountingRuntime(responses=["7", "8"]), host_with(Recorder())
                        ).run("q")
    assert original.status == "budget_exhausted" and len(recorded) == 1

    replayer = Replayer()
    runtime = CountingRuntime(responses=["other"])
    again = pipeline(text, runtime, host_with(replayer)).run("q")
    assert runtime.calls == 0
    assert again.status == "budget_exhausted"
    assert again.to_dict()["candidates"] == original.to_dict()["candidates"]
    assert again.ledger.total.calls == original.ledger.total.calls == 1
    assert [e[0] for e in replayer.log].count("call") == 1
