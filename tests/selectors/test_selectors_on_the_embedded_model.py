"""Each selector and controller family end to end on the embedded model, with tiny budgets
(n ≤ 4, max_tokens ≤ 12) and one pipeline run per test (two for the replay check), so the
file takes seconds once the model is loaded (far more when other processes load the cores)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sacrebleu import sentence_chrf
from selector_support import select

from ttc.pipeline import Pipeline
from ttc.plugins.selectors import similarity
from ttc.plugins.selectors.borda import Borda
from ttc.plugins.selectors.majority import Majority, MajorityConfig
from ttc.plugins.tasks.builtin import LastNumber

pytestmark = pytest.mark.model
QUESTION = "Tom has 3 apples and buys 4 more. How many apples does he have?"
SAMPLE = {"use": "sample", "n": 4, "temperature": 0.9, "max_tokens": 12}
RECIPES = Path(__file__).resolve().parents[2] / "recipes"


def run(stages: list, select: dict | None = None, task: str | None = None, seed: int = 5):
    recipe: dict = {"name": "e2e", "models": {"small": {"runtime": "local"}}, "stages": stages}
    if select:
        recipe["select"] = select
    if task:
        recipe["task"] = task
    result = Pipeline.from_text(yaml.safe_dump(recipe)).run(QUESTION, seed=seed)
    assert result.status == "succeeded", result.error
    return result


def drawn(result) -> list:
    """The candidates the first stage made, in sample order."""
    stage = next(iter(result.candidates.values())).origin.stage
    return sorted((c for c in result.candidates.values() if c.origin.stage == stage),
                  key=lambda c: c.origin.sample_index)


def test_self_certainty_is_the_mean_kl_uniform_recorded_while_decoding() -> None:
    result = run([SAMPLE], {"use": "self_certainty"})
    candidates = drawn(result)
    assert len(candidates) == 4
    means = {c.id: sum(c.tokens.kl_uniform) / c.tokens.count for c in candidates}
    assert all(c.tokens.exact and len(c.tokens.kl_uniform) == c.tokens.count
               for c in candidates)
    assert result.winner.scores["self_certainty"] == pytest.approx(means[result.winner.id])
    assert means[result.winner.id] == pytest.approx(max(means.values()))


def test_borda_with_p_zero_equals_majority_and_default_borda_runs() -> None:
    result = run([SAMPLE], {"use": "borda", "p": 0.0}, task="number")
    pool = drawn(result)  # the same candidates, voted on again without the model
    # S1 with the same tie rule (first answer seen); majority's default breaks ties by logprob
    majority = select(Majority(MajorityConfig(tie_break="first")), pool, LastNumber())
    assert result.answer == majority.answer
    default = select(Borda(), pool, LastNumber())
    assert default.answer in {c.answer for c in pool}


def test_mbr_chrf_picks_the_highest_mean_chrf_against_sacrebleu() -> None:
    result = run([SAMPLE], {"use": "mbr", "utility": "chrf"})
    texts = [c.text for c in drawn(result)]
    expected = [sum(sentence_chrf(h, [r]).score for j, r in enumerate(texts) if j != i)
                / (len(texts) - 1) for i, h in enumerate(texts)]
    u = similarity.chrf_matrix(texts)
    assert u[0, 1] == pytest.approx(sentence_chrf(texts[0], [texts[1]]).score, abs=1e-9)
    assert result.winner.scores["mbr"] == pytest.approx(max(expected), abs=1e-9)


def test_early_stopping_sc_records_its_budget() -> None:
    result = run([{"use": "early_stopping_sc", "w": 2, "L": 4, "max_tokens": 12,
                   "temperature": 0.9}], {"use": "majority"}, task="number")
    record = result.artifacts[next(k for k in result.artifacts if k.startswith("budget/"))]
    assert record["samples"] in (2, 4)
    assert record["samples"] + record["samples_saved"] == 4
    assert len(drawn(result)) == record["samples"]


def test_confidence_pruning_continues_each_hypothesis_and_replays_the_same() -> None:
    stage = {"use": "confidence_pruning", "n": 3, "T": 4, "max_tokens": 8,
             "temperature": 1.0, "coverage": 0.5, "min_keep": 1}
    result = run([stage], {"use": "majority"}, task="number")
    record = result.artifacts[next(k for k in result.artifacts if k.startswith("budget/"))]
    assert record["chunks"] >= 2 and record["hypotheses"] == 3
    survivors = [c for c in drawn(result) if c.finish_reason != "abort"]
    assert len(survivors) >= 1 and len(survivors) == 3 - record["pruned"]
    for c in drawn(result):  # chunks joined: statistics line up with the tokens
        assert c.tokens.count == len(c.tokens.logprobs) == len(c.tokens.kl_uniform) <= 8
    again = run([stage], {"use": "majority"}, task="number")
    assert [c.text for c in drawn(again)] == [c.text for c in drawn(result)]


def test_the_self_certainty_borda_recipe_keeps_a_small_budget() -> None:
    recipe = yaml.safe_load((RECIPES / "self-certainty-borda.yaml").read_text())
    (stage,) = recipe["stages"]
    assert stage["n"] <= 4 and stage["max_tokens"] <= 32
