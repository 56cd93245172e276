"""Each component end to end on the embedded model, with tiny budgets."""

from __future__ import annotations

import pytest
import yaml

from ttc.pipeline import Pipeline

pytestmark = pytest.mark.model
QUESTION = "What is 2 + 3?"
GEN = {"use": "generator", "samples": 2, "temperature": 0.8, "max_tokens": 12}


def run(stages, select=None, task=None):
    recipe = {"name": "e2e", "models": {"small": {"runtime": "local"}}, "stages": stages}
    if select:
        recipe["select"] = select
    if task:
        recipe["task"] = task
    result = Pipeline.from_text(yaml.safe_dump(recipe)).run(QUESTION, seed=3)
    assert result.status == "succeeded", result.error
    return result


def test_generator_ensemble_critic_ranker_fuser():
    result = run([[GEN, {**GEN, "samples": 1, "temperature": 0.0}],
                  {"use": "critic", "mode": "each", "max_tokens": 12, "parse_retries": 0},
                  {"use": "ranker", "top_k": 2, "use_critiques": True, "max_tokens": 12,
                   "parse_retries": 0},
                  {"use": "fuser", "max_tokens": 12, "length_control": True}])
    (fused,) = result.pool
    assert len(fused.parents) == 2 and fused.tokens.count <= 12


def test_pairwise_ranker():
    result = run([GEN, {"use": "ranker", "top_k": 1, "mode": "pairwise", "parse_retries": 0}])
    assert len(result.pool) == 1


def test_verifier_and_yes_no_and_self_eval():
    result = run([GEN, {"use": "verifier", "max_tokens": 12, "parse_retries": 0},
                  [{"use": "yes_no_verifier"}, {"use": "self_eval"}]])
    for candidate in result.pool:
        assert 0.0 <= candidate.scores["yes_no"] <= 1.0
        assert 0.0 <= candidate.scores["self_eval"] <= 1.0


def test_unit_tests():
    result = run([{"use": "unit_test_generator", "unit_test_cap": 2, "max_tokens": 24,
                   "parse_retries": 0}, GEN, {"use": "unit_test_evaluator", "parse_retries": 0}])
    assert result.pool


def test_refiners():
    result = run([GEN,
                  {"repeat": {"max_rounds": 1, "stages": [
                      {"use": "self_refine", "max_tokens": 12, "feedback_max_tokens": 8}]}},
                  {"use": "wait_continuation", "max_new_tokens": 8}])
    assert all(c.text and "Wait" in c.text for c in result.pool)


def test_iad_and_sequential_refine():
    iad = run([{"use": "iad", "m": 2, "rounds": 1, "max_tokens": 12}])
    scores = [c.scores["yes_no"] for c in iad.pool]
    assert scores == sorted(scores, reverse=True)
    seq = run([{"use": "sequential_refine", "n": 2, "max_tokens": 12}],
              select={"use": "inverse_entropy_vote"}, task="number")
    assert seq.winner is not None


def test_sampled_critiques_and_verdicts_and_the_subset_fuser():
    result = run([{**GEN, "max_tokens": 8},
                  {"use": "critic", "mode": "each", "samples": 2, "temperature": 0.7,
                   "max_tokens": 6, "parse_retries": 0},
                  {"use": "verifier", "samples": 2, "temperature": 0.7, "max_tokens": 4,
                   "parse_retries": 0},
                  {"use": "fuser", "subset_k": 1, "max_tokens": 8}])
    (fused,) = result.pool
    assert len(fused.parents) == 1
    inputs = [c for c in result.candidates.values() if "fsc_consensus" in c.scores]
    assert inputs and all(c.scores["verifier"] in (0.0, 0.5, 1.0) for c in inputs
                          if "verifier" in c.scores)
