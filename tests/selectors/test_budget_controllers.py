"""Budget controllers (docs/methods.md B1, B2, B4) on the scripted runtime, end to end."""

from __future__ import annotations

import asyncio

import pytest

import ttc
from ttc.plugins.controllers.adaptive_sc import leader_confidence
from ttc.plugins.runtimes.scripted import ScriptedOptions, ScriptedRuntime


def _run(controller: dict, responses: list[str], runtime=None, select="majority"):
    recipe = {
        "name": "controller",
        "models": {"m": {"runtime": "scripted", "options": {"responses": responses,
                                                              "rotate_by_seed": True}}},
        "task": "number",
        "stages": [controller],
        "select": {"use": select},
    }
    runtimes = {"m": runtime} if runtime is not None else None
    return ttc.Pipeline.from_dict(recipe, runtimes=runtimes).run("What is 6*7?")


def test_esc_a_unanimous_first_window_uses_exactly_w_samples() -> None:
    result = _run({"use": "early_stopping_sc", "w": 5, "L": 20}, ["it is 42"])
    assert result.answer == "42"
    assert len(result.candidates) == 5
    assert result.ledger.total.calls == 1  # one window; majority makes no call
    assert result.winner.scores["budget_samples_saved"] == 15


def test_esc_never_draws_more_than_l() -> None:
    result = _run({"use": "early_stopping_sc", "w": 3, "L": 10}, ["1", "2"])
    assert len(result.candidates) == 10
    assert result.winner.scores["budget_samples_saved"] == 0


def test_esc_with_l_equal_w_is_plain_self_consistency() -> None:
    responses = ["7", "42", "42", "9"]
    esc = _run({"use": "early_stopping_sc", "w": 4, "L": 4}, responses)
    plain = _run({"use": "sample", "n": 4}, responses)
    assert len(esc.candidates) == 4
    assert sorted(c.answer for c in esc.candidates.values()) == sorted(
        c.answer for c in plain.candidates.values())


def test_adaptive_posterior_thresholds() -> None:
    assert leader_confidence([0, 0, 0, 0]) == pytest.approx(1 - 0.5**5)
    assert leader_confidence([0, 0, 0]) == pytest.approx(1 - 0.5**4)


def test_adaptive_four_unanimous_samples_stop_it() -> None:
    result = _run({"use": "adaptive_sc", "C": 0.95, "batch": 1, "max_n": 40}, ["so 42"])
    assert len(result.candidates) == 4
    assert result.winner.scores["budget_samples_saved"] == 36


def test_adaptive_with_c_one_always_draws_max_n() -> None:
    result = _run({"use": "adaptive_sc", "C": 1.0, "batch": 2, "max_n": 6}, ["so 42"])
    assert len(result.candidates) == 6


class RacingRuntime(ScriptedRuntime):
    """Call k answers responses[k] (a batch: all of them); latency proportional to length;
    records cancellations."""

    def __init__(self, responses: list[str], cancel: bool = True) -> None:
        super().__init__("race", ScriptedOptions(responses=responses))
        self.responses = responses
        self.cancelled = 0
        if not cancel:
            self.capabilities = self.capabilities - {ttc.Capability.CANCEL}

    async def generate(self, request):
        # no await before super().generate's first suspension: the swap is atomic
        self.options = ScriptedOptions(responses=self.responses[self.calls:] + self.responses)
        completions = await super().generate(request)
        try:
            await asyncio.sleep(0.02 * max(len(c.token_ids) for c in completions))
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        return completions


RACE = ["a b c d e f g h 1", "x 2", "p q r s 3", "u v w x y z 4"]


def test_first_finish_keeps_the_shortest_and_cancels_every_sibling() -> None:
    runtime = RacingRuntime(RACE)
    result = _run({"use": "first_finish", "n": 4, "m": 1}, RACE, runtime=runtime)
    assert result.answer == "2"
    assert runtime.cancelled == 3
    assert len(result.pool) == 1


def test_first_finish_with_m_equal_n_is_self_consistency() -> None:
    runtime = RacingRuntime(RACE)
    result = _run({"use": "first_finish", "n": 4, "m": 4}, RACE, runtime=runtime)
    assert runtime.cancelled == 0
    assert sorted(c.answer for c in result.candidates.values()) == ["1", "2", "3", "4"]


def test_first_finish_without_cancel_keeps_the_shortest_finished_traces() -> None:
    runtime = RacingRuntime(RACE, cancel=False)
    result = _run({"use": "first_finish", "n": 4, "m": 2}, RACE, runtime=runtime)
    kept = sorted(c.answer for c in result.candidates.values())
    assert kept == ["2", "3"]
    assert runtime.cancelled == 0


def test_first_finish_replay_reapplies_the_race_without_re_racing(tmp_path) -> None:
    from ttc.plugin_system import PluginHost
    from ttc.storage import Recorder, RunStore
    from ttc.storage.replay import replay

    text = ("name: race\nmodels: {m: {runtime: scripted}}\ntask: number\nseed: 4\n"
            "stages:\n  - {use: first_finish, n: 4, m: 2}\nselect: {use: majority}\n")
    store = RunStore.open(f"sqlite:///{tmp_path / 'race.db'}")
    host = PluginHost(load_entry_points=False)
    live = RacingRuntime(RACE)
    name = host.register(Recorder(store), name="race-recorder")
    try:
        original = ttc.Pipeline.from_text(text, host=host, runtimes={"m": live}).run("6*7?")
    finally:
        host.unregister(name)
    assert original.status == "succeeded", original.error
    assert live.cancelled == 2
    kept = sorted(c.answer for c in original.candidates.values())
    assert kept == ["2", "3"]
    again = RacingRuntime(RACE)
    # not strict: the calls the recording cancelled are started and cancelled again at once
    report = replay(store, original.run_id, host=host, runtimes={"m": again}, strict=False)
    assert report.made == 0 and report.identical
    assert again.cancelled == 2
    assert sorted(c.answer for c in report.result.candidates.values()) == kept
    assert report.result.artifacts == original.artifacts
    store.close()
