"""The example plugin follows ttc's rules (the conformance kit) and does what it says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ttc.testing import check_component, check_plugin, check_task_format, make_state

from ttc_plugin_example import plugin
from ttc_plugin_example.restate import Restate
from ttc_plugin_example.roman import RomanNumber, roman_value, to_roman
from ttc_plugin_example.shortest_majority import ShortestMajority

RECIPE = Path(__file__).resolve().parent.parent / "recipes" / "roman-vote.yaml"


def test_the_plugin_loads_as_ttc_loads_it_and_passes_the_kit():
    registered = check_plugin(plugin, name="example")
    assert registered["ttc_register_components"] == [Restate, ShortestMajority]
    assert registered["ttc_register_tasks"] == [RomanNumber]


def test_restate_makes_one_child_per_candidate():
    run = check_component(Restate, responses=["It is 5."])
    assert [c.text for c in run.state.pool] == ["It is 5."] * 4
    assert len(run.calls) == 4


def test_shortest_majority_breaks_ties_by_brevity_whatever_the_order():
    state = make_state(["The answer is XIV.", "14", "It is 15 for sure.", "15"],
                       fmt=RomanNumber())
    run = check_component(ShortestMajority, state, fmt=RomanNumber())
    assert run.selection.answer == "14"  # 2 votes each; "14" is the shortest text


def test_roman_numbers_and_digits_are_one_answer():
    check_task_format(RomanNumber, ["XIV", "14", "no number", "IIII then 7"])
    fmt = RomanNumber()
    assert fmt.key(fmt.extract("the total is XIV")) == fmt.key(fmt.extract("14")) == 14
    assert fmt.extract("IIII then 7") == "7" and roman_value("IIII") is None
    assert all(roman_value(to_roman(n)) == n for n in range(1, 400))


def test_the_recipe_runs_and_the_lifecycle_hook_writes_a_summary(ttc_run_recipe,
                                                                  ttc_run_store, tmp_path,
                                                                  monkeypatch):
    summary = tmp_path / "runs.jsonl"
    monkeypatch.setenv("TTC_RUN_SUMMARY", str(summary))
    result = ttc_run_recipe(RECIPE, "What is 7 + 7?", responses=["XIV", "14", "15"],
                            store=ttc_run_store)
    assert result.status == "succeeded" and result.answer in {"XIV", "14"}
    (line,) = [json.loads(x) for x in summary.read_text().splitlines()]
    assert line["run"] == result.run_id and line["recipe"] == "roman-vote"
    assert ttc_run_store.get_run(result.run_id).status == "succeeded"


@pytest.mark.parametrize("numeral", ["IV", "IX", "XL", "MCMXC"])
def test_subtractive_numerals(numeral):
    assert to_roman(roman_value(numeral)) == numeral
