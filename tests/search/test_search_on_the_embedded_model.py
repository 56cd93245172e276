"""Step-level search on the embedded SmolLM2-135M with tiny budgets: determinism, budgets,
greedy step decoding, the prefix cache at work, and replay without the model."""

from __future__ import annotations

import asyncio

import pytest
from search_support import record
from test_search_methods import assert_tree, greedy_step_decoding, snapshot

import ttc
from ttc.storage import RunStore
from ttc.storage.replay import replay

pytestmark = pytest.mark.model

QUESTION = "What is 7 + 5? Think step by step."
MODEL = {"runtime": "local", "options": {"threads": 1}}
TINY = {"max_steps": 2, "max_tokens": 10, "scorer": {"use": "self_eval"}}
METHODS = {
    "beam_search": {"use": "beam_search", "n": 2, "beam_width": 1},
    "dvts": {"use": "dvts", "n": 2, "beam_width": 1},
    "particle_filtering": {"use": "particle_filtering", "n": 2},
    "astar_decoding": {"use": "astar_decoding", "k": 2, "max_expansions": 3},
}


def pipeline(stage: dict, store=False, **extra) -> ttc.Pipeline:
    recipe = {"name": "search-model", "models": {"m": MODEL}, "task": "number",
              "stages": [stage], "select": {"use": "weighted_best_of_n", "score": "prm",
                                            "mode": "naive"}, **extra}
    return ttc.Pipeline.from_dict(recipe, store=store)


def same_search(a, b) -> bool:
    """The same tree (texts, parents) and scores up to the engine's float noise: a score
    read over a cached prefix differs from one read cold by ~1e-6 (other matrix shapes)."""
    one, two = snapshot(a), snapshot(b)
    if {k: v[:2] for k, v in one.items()} != {k: v[:2] for k, v in two.items()}:
        return False
    return all(one[k][2].keys() == two[k][2].keys()
               and all(abs(one[k][2][s] - two[k][2][s]) < 1e-4 for s in one[k][2])
               for k in one)


def test_a_search_on_the_model_is_deterministic_under_a_seed() -> None:
    p = pipeline({**METHODS["beam_search"], **TINY})
    first, again = p.run(QUESTION, seed=4), p.run(QUESTION, seed=4)
    assert first.status == "succeeded"
    assert same_search(first, again)
    assert first.answer == again.answer and first.winner.id == again.winner.id
    assert_tree(first)


@pytest.mark.parametrize("method", METHODS)
def test_no_method_exceeds_its_budget_on_the_model(method) -> None:
    stage = {**METHODS[method], **TINY, "max_steps": 3, "token_budget": 45, "call_budget": 7}
    result = pipeline(stage).run(QUESTION, seed=1)
    spent = record(result)
    assert result.status == "succeeded"
    assert 0 < spent["completion_tokens"] <= 45 and spent["calls"] <= 7
    assert result.ledger.total.completion_tokens == spent["completion_tokens"]


def test_one_beam_of_width_one_is_greedy_step_decoding_on_the_model() -> None:
    p = pipeline({"use": "beam_search", "n": 1, "beam_width": 1, "temperature": 0.0,
                  "max_steps": 3, "max_tokens": 16, "scorer": {"use": "mean_logprob"}})
    result = p.run(QUESTION, seed=0)
    expected = asyncio.run(greedy_step_decoding(p.runtime("m"), QUESTION, 3, 16))
    assert result.winner.text == expected


def test_every_expansion_prefills_only_its_new_step() -> None:
    result = pipeline({**METHODS["beam_search"], **TINY, "max_steps": 3}).run(QUESTION,
                                                                             seed=2)
    spent = record(result)
    generation, scorer = spent["generation"], spent["scorer"]
    assert generation["calls"] >= 3
    # every call after the first continues a cached prefix: the prompt, then the steps
    assert generation["cached_tokens"] >= 0.6 * generation["prompt_tokens"]
    assert scorer["cached_tokens"] >= 0.5 * scorer["prompt_tokens"]


def test_a_search_run_replays_with_no_model_call(tmp_path) -> None:
    store = RunStore.open(f"sqlite:///{tmp_path}/runs.db")
    original = pipeline({**METHODS["particle_filtering"], **TINY},
                        store=store).run(QUESTION, seed=3)
    assert original.status == "succeeded"
    report = replay(store, original.run_id)  # strict: any call would fail the replay
    assert report.made == 0 and report.served == original.ledger.total.calls
    assert report.identical
