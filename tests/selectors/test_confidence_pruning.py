"""Set-cover pruning (docs/methods.md B5): the cover itself, and the controller end to end on a
scripted runtime that continues each hypothesis from its own text."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ttc
from ttc.plugins.controllers.confidence_pruning import set_cover_keep
from ttc.plugins.runtimes.scripted import ScriptedOptions, ScriptedRuntime
from ttc.runtime import GenerateRequest

token_sets = st.lists(st.frozensets(st.integers(0, 30), max_size=12), min_size=1, max_size=8)


@settings(max_examples=200, deadline=None)
@given(sets=token_sets, data=st.data(), coverage=st.floats(0.05, 1.0),
       min_keep=st.integers(1, 4))
def test_the_kept_set_reaches_coverage_and_min_keep(sets, data, coverage, min_keep) -> None:
    confidences = data.draw(st.lists(st.floats(-20, 0), min_size=len(sets),
                                     max_size=len(sets)))
    kept = set_cover_keep(sets, confidences, coverage, min_keep)
    universe = frozenset().union(*sets)
    covered = frozenset().union(*(sets[i] for i in kept))
    assert len(covered) >= coverage * len(universe) - 1e-9
    assert len(kept) >= min(min_keep, len(sets))
    assert len(set(kept)) == len(kept)


def test_the_cover_prefers_confident_hypotheses_and_keeps_fixed_ones() -> None:
    sets = [frozenset({1, 2, 3}), frozenset({1, 2, 3}), frozenset({4})]
    # same tokens, the second is more confident: it is the one kept
    assert set_cover_keep(sets, [-3.0, -0.1, -1.0], 0.75, 1) == [1]
    assert set_cover_keep(sets, [-3.0, -0.1, -1.0], 0.75, 1, fixed=[0]) == [0]
    assert sorted(set_cover_keep(sets, [-3.0, -0.1, -1.0], 1.0, 1)) == [1, 2]


class ContinuingRuntime(ScriptedRuntime):
    """The first call's sample i writes ``responses[i]``; a later call whose prompt ends
    with a response's beginning writes the next words of that response."""

    def __init__(self, responses: list[str]) -> None:
        super().__init__("continuing", ScriptedOptions(responses=responses))
        self.responses = responses
        self.prompts: list[str] = []

    async def generate(self, request: GenerateRequest):
        self.calls += 1
        self.prompts.append(request.prompt)
        partial = request.prompt.split("<assistant>", 1)[1]
        if not partial:
            return await ScriptedRuntime("s", self.options).generate(request)
        (full,) = [r for r in self.responses if r.startswith(partial)]
        rest = full[len(partial):]
        (completion,) = await ScriptedRuntime("s", ScriptedOptions(responses=[rest])).generate(
            request)
        return [dataclasses.replace(completion, text=" " + completion.text.lstrip())]


HYPOTHESES = [  # distinct first words: a continuation's prompt tells them apart
    "a b c d e f so 42",
    "b a c d e f g so 42",
    "x y z w v u t s r so 7",
    "c a b x y z so 42",
]


def _run(controller: dict, runtime: ScriptedRuntime):
    recipe = {"name": "pruning", "models": {"m": {"runtime": "scripted"}}, "task": "number",
              "stages": [controller], "select": {"use": "majority"}}
    return ttc.Pipeline.from_dict(recipe, runtimes={"m": runtime}).run("What is 6*7?")


def _texts(result) -> list[str]:
    """The texts the controller (or sampler) left for the final vote."""
    return sorted(c.text for c in result.candidates.values()
                  if c.origin.component != "majority" and c.finish_reason != "abort")


@pytest.mark.parametrize("off", [{"prune": False}, {"coverage": 1.0}])
def test_pruning_off_equals_plain_sampling_and_majority(off: dict) -> None:
    runtime = ContinuingRuntime(HYPOTHESES)
    chunked = _run({"use": "confidence_pruning", "n": 4, "T": 2, "max_tokens": 64, **off},
                   runtime)
    plain = _run({"use": "sample", "n": 4, "max_tokens": 64},
                 ScriptedRuntime("s", ScriptedOptions(responses=HYPOTHESES)))
    assert _texts(chunked) == _texts(plain) == sorted(HYPOTHESES)
    assert chunked.answer == plain.answer == "42"
    assert runtime.calls > 1  # it really went chunk by chunk
    ((_, record),) = [(k, v) for k, v in chunked.artifacts.items()
                      if k.startswith("budget/")]
    assert record["pruned"] == 0 and record["tokens_saved_estimate"] == 0


def test_pruning_drops_hypotheses_keeps_min_keep_and_records_the_saving() -> None:
    runtime = ContinuingRuntime(HYPOTHESES)
    config = {"use": "confidence_pruning", "n": 4, "T": 2, "max_tokens": 64,
              "coverage": 0.6, "min_keep": 2}
    result = _run(config, runtime)
    survivors = _texts(result)
    assert 2 <= len(survivors) < 4
    ((_, record),) = [(k, v) for k, v in result.artifacts.items() if k.startswith("budget/")]
    assert record["pruned"] == 4 - len(survivors)
    assert record["tokens_saved_estimate"] > 0
    assert result.winner.scores["budget_tokens_saved"] == record["tokens_saved_estimate"]
    pruned = [c for c in result.candidates.values() if c.finish_reason == "abort"]
    assert len(pruned) == record["pruned"]  # pruned hypotheses stay in the lineage
    # fewer tokens than running all four to the end
    assert result.ledger.total.completion_tokens < sum(len(h.split()) for h in HYPOTHESES)
    # deterministic and replayable: the same run again gives the same calls and candidates
    again = ContinuingRuntime(HYPOTHESES)
    repeat = _run(config, again)
    assert again.prompts == runtime.prompts
    assert sorted(repeat.candidates) == sorted(result.candidates)


def test_min_keep_survives_even_when_one_hypothesis_covers_everything() -> None:
    same = ["p q r s t so 3"] * 4
    runtime = ScriptedRuntime("s", ScriptedOptions(responses=same))
    result = _run({"use": "confidence_pruning", "n": 4, "T": 2, "max_tokens": 3,
                   "coverage": 0.5, "min_keep": 3}, runtime)
    assert len(_texts(result)) == 3


def test_a_pruned_run_replays_strictly_with_no_model_call(tmp_path) -> None:
    from ttc.plugin_system import PluginHost
    from ttc.storage import Recorder, RunStore
    from ttc.storage.replay import replay

    text = ("name: pruning\nmodels: {m: {runtime: scripted}}\ntask: number\nseed: 2\n"
            "stages:\n  - {use: confidence_pruning, n: 4, T: 2, max_tokens: 64, "
            "coverage: 0.6}\nselect: {use: majority}\n")
    store = RunStore.open(f"sqlite:///{tmp_path / 'pruning.db'}")
    host = PluginHost(load_entry_points=False)
    name = host.register(Recorder(store), name="pruning-recorder")
    try:
        original = ttc.Pipeline.from_text(
            text, host=host, runtimes={"m": ContinuingRuntime(HYPOTHESES)}).run("6*7?")
    finally:
        host.unregister(name)
    assert original.status == "succeeded", original.error
    again = ContinuingRuntime(HYPOTHESES)
    report = replay(store, original.run_id, host=host, runtimes={"m": again})  # strict
    assert report.made == 0 and report.identical and again.calls == 0
    assert report.result.artifacts == original.artifacts
    store.close()
