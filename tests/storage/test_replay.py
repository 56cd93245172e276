"""Replay, counterfactual replay and resume: one fingerprinted call store."""

from __future__ import annotations

import pytest
from scripted_recipes import recipe
from test_recording import record

from ttc.calls import ModelCall
from ttc.events import RunInfo
from ttc.plugin_system import PluginHost
from ttc.runtime import Completion, GenerateRequest
from ttc.state import Task
from ttc.storage import Recorder, ReplayMiss, RunStore
from ttc.storage.replay import replay, resume
from ttc.storage.run_view import call_counts


def snapshot(result) -> dict:
    return {cid: c.to_dict() for cid, c in result.candidates.items()}


def test_exact_replay_is_identical_with_no_model_call(store: RunStore, host: PluginHost) -> None:
    pipeline, original = record(store, host, recipe(tag="rp-exact"))
    runtime = pipeline.runtime("m")
    before = runtime.calls

    report = replay(store, original.run_id, host=host)

    assert runtime.calls == before  # the model was never called
    assert report.made == 0 and report.served == 4
    assert report.identical
    assert snapshot(report.result) == snapshot(original)
    assert report.result.answer == original.answer
    assert report.result.winner.id == original.winner.id
    replayed = store.get_run(report.result.run_id)
    assert replayed.replay_of == original.run_id and replayed.status == "succeeded"
    assert all(c.replayed for c in replayed.model_calls) and len(replayed.model_calls) == 4


def test_selector_swap_makes_zero_model_calls(store: RunStore, host: PluginHost) -> None:
    pipeline, original = record(store, host, recipe(tag="rp-swap"))
    runtime = pipeline.runtime("m")
    before = runtime.calls

    report = replay(store, original.run_id, recipe_text=recipe(tag="rp-swap", selector="first"),
                    host=host)

    assert runtime.calls == before and report.made == 0 and report.served == 4
    pool = [c for c in report.result.candidates.values() if c.origin.stage == "2-test_revise"]
    assert report.result.winner.id == pool[0].id  # `first` picked the first revision
    assert all("position" in c.scores for c in pool)
    texts = {cid: c.text for cid, c in original.candidates.items()}
    assert {cid: c.text for cid, c in report.result.candidates.items()} == texts


def test_counterfactual_replay_makes_only_new_calls(store: RunStore, host: PluginHost) -> None:
    pipeline, original = record(store, host, recipe(tag="rp-new"))
    runtime = pipeline.runtime("m")
    before = runtime.calls
    longer = recipe(tag="rp-new", extra_stages=1)

    report = replay(store, original.run_id, recipe_text=longer, host=host)

    assert report.served == 4 and report.made == 1
    assert runtime.calls == before + 1


def test_strict_replay_names_the_missing_calls(store: RunStore, host: PluginHost) -> None:
    pipeline, original = record(store, host, recipe(tag="rp-strict"))
    runtime = pipeline.runtime("m")
    before = runtime.calls
    runs_before = {r.id for r in store.list_runs()}

    with pytest.raises(ReplayMiss) as caught:
        replay(store, original.run_id, recipe_text=recipe(tag="rp-strict", extra_stages=1),
               strict=True, host=host)

    message = str(caught.value)
    assert "1 model call(s) are not in the recording" in message
    assert "stage 3-sample, component sample: generate on scripted:scripted-rp-strict" in message
    assert runtime.calls == before
    assert {r.id for r in store.list_runs()} == runs_before  # the failed replay left nothing


def test_identical_calls_are_served_in_recording_order(store: RunStore) -> None:
    run = RunInfo(run_id="r-same", recipe_name="t", recipe_text="name: t", recipe_hash="h",
                  task=Task(prompt="q"), seed=1)
    recorder = Recorder(store)
    recorder.ttc_run_started(run=run)
    request = GenerateRequest(prompt="same")
    for i, text in enumerate(["first", "second"]):
        completion = Completion(text=text, token_ids=(i,), logprobs=(-0.5,),
                                finish_reason="stop", prompt_tokens=1)
        recorder.ttc_model_called(run=run, call=ModelCall(
            id=f"call-{i}", run_id=run.run_id, stage="1-s", component="c", model_alias="m",
            runtime="scripted", model="x", kind="generate", fingerprint="fp-same",
            request=request, response=(completion,), error=None, latency=0.0, attempt=1))

    replaying = Recorder(store, sources=["r-same"], replay_of="r-same")
    again = RunInfo(run_id="r-again", recipe_name="t", recipe_text="name: t",
                    recipe_hash="h", task=Task(prompt="q"), seed=1)
    replaying.ttc_run_started(run=again)
    served = [replaying.ttc_recorded_response(run=again, fingerprint="fp-same", kind="generate")
              for _ in range(3)]
    assert [s[0].text for s in served[:2]] == ["first", "second"]
    assert served[2] is None  # a third identical call was never recorded: the model runs
    assert store.recorded_response("fp-same", "generate", occurrence=1)[0].text == "second"


def test_resume_makes_only_the_calls_not_recorded(store: RunStore, host: PluginHost) -> None:
    text = recipe(tag="rp-resume", extra_stages=2)
    pipeline, original = record(store, host, text)
    reference = store.get_run(original.run_id)
    total = len(reference.model_calls)
    # simulate a crash after the first two calls: drop the rest of the run's records
    from sqlalchemy import delete

    from ttc.storage.models import CandidateRow, ModelCallRow, RunRow, StageRow

    def crash(session) -> None:
        session.execute(delete(ModelCallRow).where(ModelCallRow.run_id == original.run_id,
                                                   ModelCallRow.seq >= 2))
        session.execute(delete(StageRow).where(StageRow.run_id == original.run_id,
                                               StageRow.seq >= 2))
        session.execute(delete(CandidateRow).where(CandidateRow.run_id == original.run_id))
        row = session.get(RunRow, original.run_id)
        row.status, row.answer, row.finished_at = "running", None, None

    store.write(crash)
    runtime = pipeline.runtime("m")
    before = runtime.calls

    report = resume(store, original.run_id, host=host, force=True)

    assert report.served == 2 and report.made == total - 2
    assert runtime.calls == before + total - 2
    resumed = store.get_run(original.run_id)
    assert resumed.status == "succeeded" and resumed.resumes == 1
    assert [c.fingerprint for c in resumed.model_calls] == \
        [c.fingerprint for c in reference.model_calls]
    assert snapshot(report.result) == snapshot(original)
    assert resumed.answer == reference.answer
    # the stored run says where its calls came from: 2 served from the first session
    counts = call_counts(resumed)
    assert (counts.calls, counts.served, counts.made) == (total, 2, total - 2)
    assert resumed.ledger["total"]["served_calls"] == 2
    assert f"{total} calls (2 served from the recording, {total - 2} made" in _text(resumed)


def _text(run) -> str:
    from rich.console import Console

    from ttc.storage.cli import run_tree

    console = Console(width=300, record=True)
    console.print(run_tree(run))
    return console.export_text()


def test_resume_refuses_a_finished_run(store: RunStore, host: PluginHost) -> None:
    _, original = record(store, host, recipe(tag="rp-done", revise=False))
    from ttc.errors import UsageError

    with pytest.raises(UsageError, match="already finished"):
        resume(store, original.run_id, host=host)
