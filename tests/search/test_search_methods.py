"""The four searches on a scripted runtime that continues partial solutions step by step:
the tree each leaves behind, determinism, budgets, and each method's own invariants."""

from __future__ import annotations

import asyncio
import math
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from search_support import TreeRuntime, record, run_search, search_test_scorers

import ttc
from ttc.plugins.search.particle_filtering import effective_sample_size, normalised, resample
from ttc.runtime import GenerateRequest, SamplingParams
from ttc.storage import RunStore
from ttc.storage.replay import replay

SCORER = {"use": "stated_value"}
METHODS = {
    "beam_search": {"use": "beam_search", "n": 4, "beam_width": 2},
    "dvts": {"use": "dvts", "n": 4, "beam_width": 2},
    "particle_filtering": {"use": "particle_filtering", "n": 4},
    "astar_decoding": {"use": "astar_decoding", "k": 2},
}


@pytest.fixture(scope="module", autouse=True)
def scorers():
    with search_test_scorers():
        yield


def stage(method: str, **params) -> dict:
    return {**METHODS[method], "max_steps": 3, "scorer": SCORER, **params}


def snapshot(result) -> dict:
    return {cid: (c.text, c.parents, dict(c.scores)) for cid, c in result.candidates.items()}


def depth(candidate) -> int:
    return candidate.artifacts["search"]["depth"]


def assert_tree(result) -> None:
    """Every partial solution is a candidate whose parent is the one step shorter."""
    candidates = result.candidates
    assert candidates
    for c in candidates.values():
        if depth(c) == 1:
            assert c.parents == ()
            continue
        (parent_id,) = c.parents
        parent = candidates[parent_id]
        assert depth(parent) == depth(c) - 1
        assert c.text.startswith(parent.text) and c.text != parent.text
        assert parent.artifacts["search"]["terminal"] is None  # an ended solution never grows


@pytest.mark.parametrize("method", METHODS)
def test_every_partial_solution_is_stored_with_its_parent(method) -> None:
    result = run_search(stage(method), runtime=TreeRuntime(ends_below=2), select="first")
    assert result.status == "succeeded"
    assert_tree(result)
    final = [c for c in result.candidates.values() if c.artifacts["search"].get("final")]
    assert final and result.winner.id in {c.id for c in final}
    assert all("search_usage" in c.artifacts for c in final)
    for c in result.candidates.values():  # unfinished solutions read as cut short
        ended = c.artifacts["search"]["terminal"]
        assert c.finish_reason == ("length" if ended is None else "stop")
    for c in result.candidates.values():  # step scores as weighted_best_of_n reads them
        assert [k for k in c.scores if k.startswith("prm#")] == [f"prm#{i}"
                                                                 for i in range(depth(c))]


@settings(max_examples=25, deadline=None)
@given(method=st.sampled_from(sorted(METHODS)), seed=st.integers(0, 2**32))
def test_a_search_is_deterministic_under_a_seed(method, seed) -> None:
    first = run_search(stage(method), seed=seed)
    again = run_search(stage(method), seed=seed)
    assert snapshot(first) == snapshot(again)
    assert first.answer == again.answer and record(first) == record(again)


def test_different_seeds_search_differently() -> None:
    texts = {frozenset(c.text for c in run_search(stage("beam_search"), seed=s)
                       .candidates.values()) for s in range(4)}
    assert len(texts) > 1


WITH_LOOKAHEAD = {**METHODS, "lookahead": {**METHODS["beam_search"], "lookahead": 2}}


@settings(max_examples=60, deadline=None)
@given(method=st.sampled_from(sorted(WITH_LOOKAHEAD)), token_budget=st.integers(1, 60),
       call_budget=st.integers(1, 14), scorer_calls=st.integers(1, 4) | st.none(),
       max_tokens=st.integers(1, 5), seed=st.integers(0, 1000),
       scorer=st.sampled_from(["stated_value", "self_eval"]))
def test_no_budget_is_ever_exceeded(method, token_budget, call_budget, scorer_calls,
                                    max_tokens, seed, scorer) -> None:
    params = {**WITH_LOOKAHEAD[method], "max_steps": 4, "max_tokens": max_tokens,
              "token_budget": token_budget, "call_budget": call_budget,
              "scorer_call_budget": scorer_calls, "scorer": {"use": scorer}}
    result = run_search(params, seed=seed)
    spent = record(result)
    assert result.status == "succeeded"
    assert spent["completion_tokens"] <= token_budget
    assert spent["calls"] <= call_budget
    assert scorer_calls is None or spent["scorer"]["calls"] <= scorer_calls
    total = result.ledger.total  # the ledger agrees with the search's own meter
    assert total.completion_tokens == spent["completion_tokens"]
    assert total.calls == spent["calls"]


@settings(max_examples=30, deadline=None)
@given(method=st.sampled_from(sorted(METHODS)), max_tokens=st.integers(2, 80),
       max_calls=st.integers(1, 12), seed=st.integers(0, 1000))
def test_the_recipe_limits_stop_a_search_before_the_gateway_must(method, max_tokens,
                                                                 max_calls, seed) -> None:
    result = run_search(stage(method, max_steps=4, max_tokens=3, scorer={"use": "self_eval"}),
                        seed=seed, limits={"max_tokens": max_tokens, "max_calls": max_calls})
    assert result.status == "succeeded"  # the search stopped itself: no BudgetExhausted
    assert result.ledger.total.completion_tokens <= max_tokens
    assert result.ledger.total.calls <= max_calls


def test_a_budget_too_small_for_one_step_leaves_an_empty_pool_and_says_why() -> None:
    result = run_search(stage("beam_search", max_tokens=8, token_budget=5))
    assert result.status == "succeeded" and result.pool == () and result.answer is None
    assert record(result)["stopped_by"] == "token_budget"
    assert result.ledger.total.calls == 0


def test_scorer_calls_are_counted_apart_from_generation() -> None:
    result = run_search(stage("beam_search", scorer={"use": "self_eval"}))
    spent = record(result)
    assert spent["scorer"]["calls"] == 3  # one score call per round of a 3-step search
    assert spent["generation"]["calls"] == 1 + 2 + 2  # the root, then 2 kept beams a round
    assert spent["calls"] == result.ledger.total.calls == 8


# --- beam search ------------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 8), width=st.integers(1, 8), seed=st.integers(0, 1000))
def test_beam_search_never_has_more_than_n_live_beams(n, width, seed) -> None:
    width = min(width, n)
    result = run_search(stage("beam_search", n=n, beam_width=width, max_steps=4),
                        runtime=TreeRuntime(ends_below=2), seed=seed)
    live = record(result)["live_beams"]
    assert live and all(count <= n for count in live)
    by_depth = Counter(depth(c) for c in result.candidates.values())
    assert all(count <= n for count in by_depth.values())


def test_with_beam_width_n_one_beam_survives_each_step() -> None:
    result = run_search(stage("beam_search", n=4, beam_width=4, max_steps=4))
    parents = {}
    for c in result.candidates.values():
        if depth(c) > 1:
            parents.setdefault(depth(c), set()).update(c.parents)
    assert parents and all(len(p) == 1 for p in parents.values())


def test_beam_lookahead_ranks_a_step_by_the_value_after_a_greedy_rollout() -> None:
    result = run_search(stage("beam_search", n=4, beam_width=2, max_steps=4, lookahead=1),
                        runtime=TreeRuntime(), seed=2)
    by_depth: dict[int, list] = {}
    for c in result.candidates.values():
        by_depth.setdefault(depth(c), []).append(c)
    for d in (1, 2):
        active = [c for c in by_depth[d] if c.artifacts["search"]["terminal"] is None]
        assert all(c.artifacts["search"]["lookahead"].startswith(f"d{d} v")
                   for c in active)  # one more greedy step, after this one
        kept = {p for c in by_depth[d + 1] for p in c.parents}
        best = sorted(active, key=lambda c: -c.scores["lookahead_value"])[:2]
        assert kept == {c.id for c in best}


async def greedy_step_decoding(runtime, question: str, max_steps: int, max_tokens: int) -> str:
    """The reference: one greedy step at a time, each continuing the text so far."""
    prompt = await runtime.render([{"role": "user", "content": question}])
    text = ""
    for step in range(max_steps):
        stop = ("\n\n",) if step + 1 < max_steps else ()
        (c,) = await runtime.generate(GenerateRequest(
            prompt=prompt + text,
            params=SamplingParams(max_tokens=max_tokens, temperature=0.0, stop=stop)))
        text += c.text + ("\n\n" if c.matched_stop == "\n\n" else "")
        if c.matched_stop != "\n\n" and c.finish_reason == "stop":
            break
    return text


def test_one_beam_of_width_one_is_greedy_step_decoding() -> None:
    runtime = TreeRuntime(ends_at=5)
    result = run_search(stage("beam_search", n=1, beam_width=1, max_steps=4, temperature=0.0,
                              max_tokens=8), runtime=runtime, select="first")
    expected = asyncio.run(greedy_step_decoding(TreeRuntime(ends_at=5), "What is 6*7?", 4, 8))
    assert result.winner.text == expected
    assert expected.count("\n\n") == 3


# --- DVTS ---------------------------------------------------------------------------------------


def subtree_texts(result) -> dict[int, str]:
    return {c.artifacts["search"]["subtree"]: c.text for c in result.pool}


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 1000), flipped=st.integers(0, 2))
def test_a_dvts_subtree_never_depends_on_another_subtrees_scores(seed, flipped) -> None:
    params = stage("dvts", n=6, beam_width=2, max_steps=4)
    plain = run_search(params, seed=seed)
    markers = [c.text.rstrip().split("\n\n")[-1].split()[2] for c in plain.candidates.values()
               if c.artifacts["search"].get("subtree") == flipped]  # its steps' m<marker>
    assert markers and all(m.startswith("m") for m in markers)
    changed = run_search({**params, "scorer": {"use": "stated_value", "flip": markers}},
                         seed=seed)
    before, after = subtree_texts(plain), subtree_texts(changed)
    assert {i: t for i, t in before.items() if i != flipped} == \
        {i: t for i, t in after.items() if i != flipped}


def test_dvts_samples_m_steps_per_live_subtree_each_round() -> None:
    result = run_search(stage("dvts", n=6, beam_width=2, max_steps=4),
                        runtime=TreeRuntime(ends_below=3), seed=3)
    by_depth = Counter(depth(c) for c in result.candidates.values())
    assert by_depth[1] == 6
    for d in range(2, 5):  # every subtree still going sampled M = 2
        going = sum(1 for c in result.candidates.values() if depth(c) == d - 1
                    and c.artifacts["search"].get("subtree") is not None
                    and c.artifacts["search"].get("pruned_at") is None
                    and c.artifacts["search"]["terminal"] is None)
        assert by_depth[d] == 2 * going
    assert len(result.pool) == 3


# --- particle filtering -------------------------------------------------------------------------


def test_particle_filtering_with_uniform_scores_keeps_its_particles_and_never_resamples():
    result = run_search(stage("particle_filtering", n=5, max_steps=4,
                              scorer={"use": "constant"}), runtime=TreeRuntime(ends_below=2))
    history = record(result)["history"]
    assert history and all(h["particles"] == 5 for h in history)
    assert all(h["ess"] == pytest.approx(5.0) and not h["resampled"] for h in history)
    assert sum(c.scores["particles"] for c in result.pool) == 5


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 1000), how=st.sampled_from(["multinomial", "systematic"]),
       temperature=st.sampled_from([0.1, 1.0, 10.0]))
def test_particle_filtering_keeps_n_particles_and_never_extends_a_stopped_one(
        seed, how, temperature) -> None:
    result = run_search(stage("particle_filtering", n=6, max_steps=5, resampling=how,
                              resample_temperature=temperature),
                        runtime=TreeRuntime(ends_below=3), seed=seed)
    assert all(h["particles"] == 6 for h in record(result)["history"])
    assert sum(c.scores["particles"] for c in result.pool) == 6
    assert sum(c.scores["particle_weight"] for c in result.pool) == pytest.approx(1.0)
    assert_tree(result)  # includes: no child of a finished solution


def test_systematic_resampling_of_equal_weights_gives_each_particle_one_child() -> None:
    for n in (1, 3, 8, 64):
        weights = normalised([0.3] * n, 1.0)
        for seed in range(20):
            rng = np.random.Generator(np.random.PCG64(seed))
            assert resample(weights, "systematic", rng) == list(range(n))


@settings(max_examples=100, deadline=None)
@given(logits=st.lists(st.floats(-20, 20), min_size=1, max_size=16), seed=st.integers(0, 99),
       how=st.sampled_from(["multinomial", "systematic"]))
def test_resampling_draws_n_indices_of_particles_with_weight(logits, seed, how) -> None:
    weights = normalised(logits, 1.0)
    drawn = resample(weights, how, np.random.Generator(np.random.PCG64(seed)))
    assert len(drawn) == len(logits) and all(0 <= i < len(logits) for i in drawn)
    assert all(weights[i] > 0 for i in drawn)
    assert 1.0 - 1e-9 <= effective_sample_size(weights) <= len(logits) + 1e-9
    if how == "systematic":  # each particle's copies differ from n·w by less than one
        counts = Counter(drawn)
        assert all(abs(counts[i] - len(logits) * w) < 1.0 + 1e-9 for i, w in enumerate(weights))


# --- A* ---------------------------------------------------------------------------------------


def test_astar_expands_in_priority_order_and_stops_at_the_first_finished_pop() -> None:
    result = run_search(stage("astar_decoding", k=3, max_steps=5),
                        runtime=TreeRuntime(ends_below=1), seed=7)
    popped = record(result)["popped"]
    f = {cid: c.scores["astar_f"] for cid, c in result.candidates.items()}
    children: dict[str, list[str]] = {}
    for c in result.candidates.values():
        children.setdefault(c.parents[0] if c.parents else "root", []).append(c.id)
    frontier = {"root": 0.0}
    for i, pop in enumerate(popped):
        assert pop["f"] == pytest.approx(min(frontier.values()))  # the best is expanded
        del frontier[pop["id"]]
        if i < len(popped) - 1:
            frontier.update({cid: f[cid] for cid in children.get(pop["id"], [])})
    assert len(popped) > 2 and record(result)["found"]
    winner = result.candidates[popped[-1]["id"]]
    assert winner.artifacts["search"]["terminal"] is not None
    assert result.pool[0].id == winner.id


def test_astar_with_h_zero_is_uniform_cost_search() -> None:
    result = run_search(stage("astar_decoding", k=2, max_steps=4, h="zero"))
    for c in result.candidates.values():
        assert c.scores["astar_f"] == c.scores["astar_g"]
        expected = sum(-math.log(max(c.scores[f"prm#{i}"], 1e-7)) for i in range(depth(c)))
        assert c.scores["astar_g"] == pytest.approx(expected)


def test_astar_respects_its_expansion_budget() -> None:
    result = run_search(stage("astar_decoding", k=2, max_steps=8, max_expansions=3),
                        runtime=TreeRuntime(ends_at=20))
    assert record(result)["expansions"] == 3 and not record(result)["found"]
    assert record(result)["stopped_by"] == "max_expansions"
    assert len(result.pool) == 1  # the best partial solution


# --- the store ------------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_a_recorded_search_walks_in_sql_and_replays_with_no_model_call(method, tmp_path):
    store = RunStore.open(f"sqlite:///{tmp_path}/runs.db")
    recipe = {"name": "search", "models": {"m": {"runtime": "scripted"}},
              "stages": [stage(method, scorer={"use": "self_eval"})],
              "select": {"use": "weighted_best_of_n", "score": "prm", "mode": "naive"}}
    original = ttc.Pipeline.from_dict(recipe, runtimes={"m": TreeRuntime(ends_below=2)},
                                      store=store).run("What is 6*7?", seed=5)
    row = store.get_run(original.run_id)
    stored = {c.id: c for c in row.candidates}
    assert set(stored) == set(original.candidates)
    for c in stored.values():  # the tree, as SQL sees it
        assert all(p in stored for p in c.parents)
        assert c.artifacts["search"]["depth"] == 1 + sum(
            stored[p].artifacts["search"]["depth"] for p in c.parents)
    runtime = TreeRuntime(ends_below=2)
    report = replay(store, original.run_id, runtimes={"m": runtime})
    assert report.made == 0 and runtime.calls == 0 and report.identical
    assert report.served == len(row.model_calls)
