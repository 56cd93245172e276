"""Borda, inverse-entropy, RPC and reward-weighted voting (docs/methods.md S3, S7, S8, S9)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from selector_support import candidate, select

from ttc.errors import TTCError
from ttc.plugins.selectors.borda import Borda, BordaConfig
from ttc.plugins.selectors.inverse_entropy_vote import InverseEntropyVote
from ttc.plugins.selectors.majority import Majority, MajorityConfig
from ttc.plugins.selectors.perplexity_consistency import (
    PerplexityConsistency,
    PerplexityConsistencyConfig,
)
from ttc.plugins.selectors.weighted_best_of_n import (
    WeightedBestOfN,
    WeightedBestOfNConfig,
    aggregate,
)
from ttc.plugins.tasks.builtin import LastNumber

ANSWERS = st.lists(st.sampled_from(["1", "2", "3", None]), min_size=1, max_size=10)
MAJORITY = Majority(MajorityConfig(tie_break="first"))


def _majority_answer(pool) -> str | None:
    return select(MAJORITY, pool, LastNumber()).answer


# --- Borda ----------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(answers=ANSWERS, certs=st.lists(st.floats(0, 5), min_size=10, max_size=10))
def test_borda_with_p_zero_is_majority(answers, certs) -> None:
    pool = [candidate(i, a, kl=[certs[i]]) for i, a in enumerate(answers)]
    assert select(Borda(BordaConfig(p=0.0)), pool, LastNumber()).answer == _majority_answer(pool)


@settings(max_examples=60, deadline=None)
@given(answers=ANSWERS, certs=st.lists(st.integers(-20, 20), min_size=10, max_size=10))
def test_borda_ignores_strictly_increasing_transforms_of_certainty(answers, certs) -> None:
    # integer levels: the transform must stay strictly increasing in floating point too
    pool = [candidate(i, a, kl=[float(c)])
            for i, (a, c) in enumerate(zip(answers, certs, strict=False))]
    moved = [candidate(i, a, kl=[math.exp(c / 4) * 3 + 1])
             for i, (a, c) in enumerate(zip(answers, certs, strict=False))]
    a = select(Borda(), pool, LastNumber())
    b = select(Borda(), moved, LastNumber())
    assert (a.winner, a.answer) == (b.winner, b.answer)


def test_borda_with_large_p_follows_the_most_certain_candidate() -> None:
    answers = ["1", "1", "1", "1", "1", "1", "1", "2"]
    pool = [candidate(i, a, kl=[1.0 if a == "1" else 9.0]) for i, a in enumerate(answers)]
    assert select(Borda(BordaConfig(p=15)), pool, LastNumber()).answer == "2"
    assert select(Borda(BordaConfig(p=0.5)), pool, LastNumber()).answer == "1"
    # the most certain has no answer: it votes for nothing
    pool[7] = candidate(7, None, kl=[9.0])
    assert select(Borda(BordaConfig(p=15)), pool, LastNumber()).answer == "1"


def test_borda_ties_go_to_the_earliest_answer_and_all_none_has_no_winner() -> None:
    pool = [candidate(0, "2", kl=[1.0]), candidate(1, "1", kl=[1.0])]
    # equal certainty: stable sort keeps pool order, so c0 ranks first and wins
    assert select(Borda(), pool, LastNumber()).winner == "c0"
    nothing = select(Borda(), [candidate(0, None, kl=[1.0])], LastNumber())
    assert nothing.winner is None and nothing.answer is None


def test_borda_can_rank_by_a_stored_score() -> None:
    pool = [candidate(0, "1", scores={"verifier": 0.1}),
            candidate(1, "2", scores={"verifier": 0.9})]
    selection = select(Borda(BordaConfig(score="verifier", p=2)), pool, LastNumber())
    assert selection.answer == "2" and selection.details["ranked_by"] == "verifier"
    with pytest.raises(TTCError):
        select(Borda(BordaConfig(score="missing")), pool, LastNumber())


# --- inverse-entropy voting -----------------------------------------------------------------

def _top(entropy_level: float) -> list[list[tuple[int, float]]]:
    """One position whose two-token top-k is more spread for larger levels."""
    p = 1 / (1 + math.exp(-entropy_level))
    return [[(0, math.log(1 - p / 2)), (1, math.log(p / 2))]]


@settings(max_examples=60, deadline=None)
@given(answers=ANSWERS)
def test_equal_entropies_give_majority(answers) -> None:
    pool = [candidate(i, a, top=_top(0.3)) for i, a in enumerate(answers)]
    assert select(InverseEntropyVote(), pool, LastNumber()).answer == _majority_answer(pool)


@settings(max_examples=60, deadline=None)
@given(answers=ANSWERS, levels=st.lists(st.floats(-4, 4), min_size=10, max_size=10),
       who=st.integers(0, 9), drop=st.floats(0.1, 3))
def test_lowering_a_chains_entropy_never_lowers_its_answers_score(answers, levels, who,
                                                                  drop) -> None:
    who %= len(answers)
    pool = [candidate(i, a, top=_top(levels[i])) for i, a in enumerate(answers)]
    calmer = list(pool)
    calmer[who] = candidate(who, answers[who], top=_top(levels[who] - drop))
    before = select(InverseEntropyVote(), pool, LastNumber()).scores[f"c{who}"]
    after = select(InverseEntropyVote(), calmer, LastNumber()).scores[f"c{who}"]
    assert after >= before - 1e-9


# --- RPC ------------------------------------------------------------------------------------

NO_PRUNE = PerplexityConsistency(PerplexityConsistencyConfig(prune=False))


@settings(max_examples=60, deadline=None)
@given(answers=ANSWERS)
def test_rpc_distinct_equiprobable_paths_give_majority(answers) -> None:
    pool = [candidate(i, a, logprobs=[-2.0, -1.0]) for i, a in enumerate(answers)]
    assert select(NO_PRUNE, pool, LastNumber()).answer == _majority_answer(pool)


def test_rpc_duplicating_a_path_changes_nothing() -> None:
    pool = [candidate(0, "1", logprobs=[-0.5]), candidate(1, "2", logprobs=[-1.0]),
            candidate(2, "2", logprobs=[-1.2])]
    duplicated = [*pool, candidate(3, "1", text=pool[0].text, logprobs=[-0.5])]
    for selector in (NO_PRUNE, PerplexityConsistency()):
        a = select(selector, pool, LastNumber())
        b = select(selector, duplicated, LastNumber())
        assert a.answer == b.answer
        assert a.scores["c0"] == pytest.approx(b.scores["c0"])
    # answer 2 has two distinct paths: e^-1 + e^-1.2 > e^-0.5
    assert select(NO_PRUNE, pool, LastNumber()).answer == "2"


def test_rpc_pruning_drops_the_improbable_tail_but_keeps_the_best_path() -> None:
    lps = [-1.0, -1.1, -1.2, -1.05, -1.15, -12.0, -13.0]
    pool = [candidate(i, "1" if i < 5 else "2", logprobs=[lp]) for i, lp in enumerate(lps)]
    selection = select(PerplexityConsistency(), pool, LastNumber())
    assert set(selection.details["pruned"]) <= {"c5", "c6"}
    assert "c0" not in selection.details["pruned"]
    assert selection.answer == "1"


# --- reward-weighted best-of-N --------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(answers=ANSWERS, reward=st.floats(0.01, 10))
def test_constant_reward_makes_weighted_equal_majority(answers, reward) -> None:
    pool = [candidate(i, a, scores={"rm": reward}) for i, a in enumerate(answers)]
    selector = WeightedBestOfN(WeightedBestOfNConfig(score="rm"))
    assert select(selector, pool, LastNumber()).answer == _majority_answer(pool)


@settings(max_examples=100, deadline=None)
@given(steps=st.lists(st.floats(0, 1), min_size=1, max_size=10))
def test_for_unit_scores_prod_le_min_le_last(steps) -> None:
    assert aggregate(steps, "prod") <= aggregate(steps, "min") + 1e-12
    assert aggregate(steps, "min") <= aggregate(steps, "last")


def test_weighted_best_of_n_modes_and_step_scores() -> None:
    pool = [
        candidate(0, "1", scores={"prm#0": 0.9, "prm#1": 0.2}),
        candidate(1, "2", scores={"prm#0": 0.6, "prm#1": 0.7}),
        candidate(2, "1", scores={"prm#0": 0.9, "prm#1": 0.3}),
    ]
    naive = WeightedBestOfN(WeightedBestOfNConfig(score="prm", mode="naive", agg="last"))
    assert select(naive, pool, LastNumber()).winner == "c1"
    weighted = WeightedBestOfN(WeightedBestOfNConfig(score="prm", agg="last"))
    assert select(weighted, pool, LastNumber()).answer == "2"  # 0.7 > 0.2 + 0.3
    by_min = WeightedBestOfN(WeightedBestOfNConfig(score="prm", mode="naive", agg="mean"))
    assert select(by_min, pool, LastNumber()).winner == "c1"
    with pytest.raises(TTCError, match="no score"):
        select(WeightedBestOfN(WeightedBestOfNConfig(score="verifier")), pool, LastNumber())


@settings(max_examples=40, deadline=None)
@given(answers=ANSWERS, rewards=st.lists(st.floats(0, 1), min_size=10, max_size=10),
       rnd=st.randoms())
def test_weighted_vote_is_order_invariant_up_to_ties(answers, rewards, rnd) -> None:
    pool = [candidate(i, a, scores={"rm": rewards[i]}) for i, a in enumerate(answers)]
    shuffled = list(pool)
    rnd.shuffle(shuffled)
    selector = WeightedBestOfN(WeightedBestOfNConfig(score="rm"))
    a, b = select(selector, pool, LastNumber()), select(selector, shuffled, LastNumber())
    if a.winner is None:
        assert b.winner is None
        return
    totals = a.details["votes"]
    best = max(totals.values())
    assert b.details["votes"][b.answer] == pytest.approx(best)
