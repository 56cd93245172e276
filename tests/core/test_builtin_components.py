"""The proof components of the spine: ``sample`` and ``majority`` (and ``first``)."""

from __future__ import annotations

from ttc.pipeline import Pipeline
from ttc.plugins.runtimes.scripted import ScriptedOptions, ScriptedRuntime


def run(recipe: str, responses: list[str], **options):
    runtime = ScriptedRuntime("", ScriptedOptions(responses=responses, **options))
    text = "models: {s: {runtime: scripted}}\n" + recipe
    return Pipeline.from_text(text, runtimes={"s": runtime}).run("q"), runtime


MAJORITY = "name: m\ntask: number\nstages:\n  - use: sample\n    n: %d\nselect: {use: majority%s}\n"


def test_majority_picks_the_most_common_answer_and_scores_every_candidate():
    result, _ = run(MAJORITY % (5, ""), ["so 3", "it is 4", "3", "maybe 5", "3.0"])
    assert result.answer == "3"
    votes = [c.scores["majority"] for c in result.candidates.values()]
    assert votes == [3.0, 1.0, 3.0, 1.0, 3.0]
    assert result.winner is not None and result.winner.text == "so 3"
    assert result.selection is not None and result.selection.details["votes"] == {
        "3": 3, "4": 1, "5": 1}


def test_majority_with_no_answers_returns_no_answer_without_raising():
    result, _ = run(MAJORITY % (3, ""), ["none", "here", "either"])
    assert result.status == "succeeded"
    assert result.selection is not None and result.selection.winner is None
    assert result.answer is None and result.winner is None


def test_majority_tie_break_first_vs_mean_logprob():
    # "7" and "8" tie with one vote each; the scripted runtime gives fixed logprobs per word.
    from ttc.plugins.runtimes.scripted import logprob_of, token_id

    first, _ = run(MAJORITY % (2, ", tie_break: first"), ["7", "8"])
    assert first.answer == "7"
    by_logprob, _ = run(MAJORITY % (2, ", tie_break: mean_logprob"), ["7", "8"])
    expected = "7" if logprob_of(token_id("7")) >= logprob_of(token_id("8")) else "8"
    assert by_logprob.answer == expected


def test_majority_is_order_invariant_up_to_ties():
    answers = ["1", "2", "2", "3", "2", "1"]
    a, _ = run(MAJORITY % (6, ""), answers)
    b, _ = run(MAJORITY % (6, ""), list(reversed(answers)))
    assert a.answer == b.answer == "2"


def test_keep_leaves_the_best_candidates_in_order():
    recipe = ("name: k\ntask: number\nstages:\n  - use: sample\n    n: 5\n"
              "  - use: majority\n    keep: 3\n")
    result, _ = run(recipe, ["1", "2", "2", "3", "2"])
    assert [c.answer for c in result.pool] == ["2", "2", "2"]


def test_sample_hedged_adds_one_greedy_sample():
    recipe = "name: h\nstages:\n  - use: sample\n    n: 2\n    hedged: true\n"
    result, runtime = run(recipe, ["a", "b", "c"])
    assert len(result.pool) == 3 and runtime.calls == 2
    assert len({c.id for c in result.pool}) == 3
    assert result.pool[2].origin.sample_index == 2


def test_sample_passes_system_stop_and_max_tokens():
    recipe = ("name: s\nstages:\n  - use: sample\n    system: Be brief.\n    stop: ['END']\n"
              "    max_tokens: 2\n")
    result, _ = run(recipe, ["one END two"])
    assert result.pool[0].text == "one "  # the text before the stop string
    assert result.pool[0].finish_reason == "stop"
    result, _ = run(recipe, ["one two three four"])
    assert result.pool[0].text == "one two" and result.pool[0].finish_reason == "length"


def test_first_keeps_the_pool_order():
    result, _ = run("name: f\nstages:\n  - use: sample\n    n: 3\nselect: {use: first}\n",
                    ["x", "y", "z"])
    assert result.answer == "x" and [c.text for c in result.pool] == ["x"]
