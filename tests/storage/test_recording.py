"""Recording a scripted run: every call, candidate (with parents and scores) and stage."""

from __future__ import annotations

from collections import Counter

import pytest
from scripted_recipes import recipe

from ttc.calls import fingerprint
from ttc.pipeline import Pipeline
from ttc.plugin_system import PluginHost
from ttc.storage import Recorder, RunStore


def record(store: RunStore, host: PluginHost, text: str, task: str = "What is 2+2?",
           seed: int | None = None):
    """Run ``text`` with a Recorder registered as a plugin; return (pipeline, result)."""
    pipeline = Pipeline.from_text(text, host=host)
    name = host.register(Recorder(store), name=f"recorder-{id(store)}")
    try:
        result = pipeline.run(task, seed=seed)
    finally:
        host.unregister(name)
    return pipeline, result


def test_every_call_candidate_and_stage_is_recorded(store: RunStore, host: PluginHost) -> None:
    pipeline, result = record(store, host, recipe(tag="rec-all"))
    run = store.get_run(result.run_id)

    assert run.status == "succeeded" and result.status == "succeeded"
    assert run.answer == result.answer and run.winner_id == result.winner.id
    assert run.seed == 11 and run.recipe_name == "storage-test"
    assert run.task["prompt"] == "What is 2+2?"
    assert [s.name for s in run.stages] == ["1-sample", "2-test_revise", "select"]
    assert all(s.status == "succeeded" for s in run.stages)

    # candidates: all of them, with lineage and scores
    stored = {c.id: c for c in run.candidates}
    assert set(stored) == set(result.candidates)
    for cid, candidate in result.candidates.items():
        row = stored[cid]
        assert row.text == candidate.text and row.answer == candidate.answer
        assert tuple(row.parents) == candidate.parents
        assert row.scores == dict(candidate.scores)
    revised = [c for c in run.candidates if c.stage == "2-test_revise"]
    assert len(revised) == 3 and all(len(c.parents) == 1 for c in revised)
    assert all(stored[c.parents[0]].stage == "1-sample" for c in revised)
    assert all("majority" in c.scores and "length" in c.scores for c in revised)

    # model calls: every one, with fingerprint, request, response and tokens
    runtime = pipeline.runtime("m")
    calls = run.model_calls
    assert len(calls) == result.ledger.total.calls == 4
    assert [c.seq for c in calls] == list(range(4))
    for call in calls:
        assert call.runtime == "scripted" and call.model == "scripted-rec-all"
        assert call.kind == "generate" and call.error is None and not call.replayed
        assert len(call.fingerprint) == 64 and call.latency >= 0
        assert call.response and call.request["prompt"]
    assert sum(c.completion_tokens for c in calls) == run.completion_tokens \
        == result.ledger.total.completion_tokens
    assert sum(c.prompt_tokens for c in calls) == run.prompt_tokens
    assert run.calls == 4 and runtime.calls >= 4
    texts = Counter(item["text"] for c in calls for item in c.response)
    assert sum(texts.values()) == 6  # 3 samples + 3 revisions


def test_fingerprint_recorded_is_the_gateways(store: RunStore, host: PluginHost) -> None:
    _, result = record(store, host, recipe(tag="rec-fp", revise=False))
    (call,) = store.get_run(result.run_id).model_calls
    from ttc.runtime import GenerateRequest, SamplingParams

    request = call.request
    rebuilt = GenerateRequest(
        prompt=request["prompt"],
        params=SamplingParams(**{**request["params"], "stop": tuple(request["params"]["stop"])}),
        n=request["n"], top_logprobs=request["top_logprobs"],
        token_ids_logprob=tuple(request["token_ids_logprob"]), regex=request["regex"],
        json_schema=request["json_schema"])
    assert fingerprint("generate", call.runtime, call.model, rebuilt) == call.fingerprint


def test_list_filter_delete_and_export(store: RunStore, host: PluginHost) -> None:
    _, first = record(store, host, recipe(tag="rec-list"))
    _, second = record(store, host, recipe(tag="rec-list", selector="first"))
    listed = store.list_runs()
    assert [r.id for r in listed][:2] == [second.run_id, first.run_id]
    assert [r.id for r in store.list_runs(status="failed")] == []
    assert len(store.list_runs(recipe="storage-test")) == 2
    assert store.list_runs(recipe="nope") == []
    from datetime import UTC, datetime, timedelta

    future = datetime.now(UTC) + timedelta(days=1)
    assert store.list_runs(since=future) == []
    assert len(store.list_runs(until=future)) == 2

    exported = store.export_run(first.run_id[:10])
    assert exported["run"]["id"] == first.run_id
    assert len(exported["model_calls"]) == 4 and len(exported["stages"]) == 3
    import json

    json.dumps(exported)  # JSON-ready

    assert store.delete_run(first.run_id) == first.run_id
    assert [r.id for r in store.list_runs()] == [second.run_id]
    from ttc.storage import RunNotFound

    with pytest.raises(RunNotFound):
        store.get_run(first.run_id)


def test_a_failing_store_fails_the_run_before_any_model_call(tmp_path,
                                                             host: PluginHost) -> None:
    """A run that asked to be recorded is never "succeeded" with nothing stored (issue 13:
    this used to succeed silently, which lost every run of a broken store)."""
    store = RunStore.open(f"sqlite:///{tmp_path / 'x.db'}")
    store.engine.dispose()
    (tmp_path / "x.db").unlink()
    (tmp_path / "x.db").mkdir()  # the file is gone and cannot come back: writes fail
    _, result = record(store, host, recipe(tag="rec-broken", revise=False))
    assert result.status == "failed"
    assert "could not be recorded" in (result.error or "")
    assert result.answer is None
    assert result.ledger.total.calls == 0  # stopped before spending a model call
