"""Self-certainty (docs/methods.md S2): the formula's properties and the selector's contract."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from selector_support import candidate, select

from ttc.component import Capability
from ttc.errors import TTCError
from ttc.plugins.runtimes.scripted import ScriptedOptions, ScriptedRuntime
from ttc.plugins.selectors.self_certainty import (
    ANSWERLESS,
    MixedCertaintyError,
    SelfCertainty,
    SelfCertaintyConfig,
    kl_uniform_from_logits,
    kl_uniform_lower_bound,
)
from ttc.plugins.tasks.builtin import LastNumber


def test_uniform_logits_give_zero() -> None:
    assert kl_uniform_from_logits(np.full(50, 3.7)) == pytest.approx(0.0, abs=1e-12)


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**31), shift=st.floats(-50, 50))
def test_a_constant_logit_shift_changes_nothing(seed: int, shift: float) -> None:
    z = np.random.default_rng(seed).normal(size=64) * 3
    assert kl_uniform_from_logits(z + shift) == pytest.approx(kl_uniform_from_logits(z), abs=1e-9)


@pytest.mark.parametrize("big", [1.0, 10.0, 100.0, 1000.0])
def test_one_large_logit_matches_the_closed_form_and_grows_without_bound(big: float) -> None:
    vocab = 32
    z = np.zeros(vocab)
    z[3] = big
    expected = math.log(math.exp(big) + vocab - 1) if big < 700 else big
    expected += -big / vocab - math.log(vocab)
    assert kl_uniform_from_logits(z) == pytest.approx(expected, rel=1e-9)
    # unlike KL(p‖U), which is at most log V
    if big >= 100:
        assert kl_uniform_from_logits(z) > math.log(vocab) * 10


def test_a_true_one_hot_is_infinite_and_the_selector_guards_it() -> None:
    z = np.full(8, -np.inf)
    z[0] = 0.0
    assert kl_uniform_from_logits(z) == math.inf
    pool = [candidate(0, kl=[math.inf, 1.0]), candidate(1, kl=[2.0, 2.0])]
    selection = select(SelfCertainty(), pool)
    assert selection.winner == "c0"
    assert all(math.isfinite(v) for v in selection.scores.values())


def _lower_bound_of_logits(z: np.ndarray, k: int) -> float:
    logp = z - (z.max() + np.log(np.exp(z - z.max()).sum()))
    top = np.sort(logp)[::-1][:k]
    return kl_uniform_lower_bound(list(top), len(z))


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 2**31), k=st.integers(1, 40), scale=st.floats(0.1, 8.0))
def test_the_topk_lower_bound_never_exceeds_the_exact_value(seed: int, k: int,
                                                            scale: float) -> None:
    z = np.random.default_rng(seed).normal(size=40) * scale
    logp = z - (z.max() + np.log(np.exp(z - z.max()).sum()))
    tail = np.exp(np.sort(logp)[: 40 - k]).sum()
    assume(k == 40 or tail > 1e-9)  # the tail mass is clamped at 1e-12 (docs/methods.md S2)
    assert _lower_bound_of_logits(z, k) <= kl_uniform_from_logits(z) + 1e-9


def test_the_lower_bound_is_exact_at_k_equal_v() -> None:
    z = np.random.default_rng(1).normal(size=30) * 2
    assert _lower_bound_of_logits(z, 30) == pytest.approx(kl_uniform_from_logits(z), abs=1e-9)


def test_exact_and_approximate_scores_are_never_ranked_together() -> None:
    pool = [candidate(0, kl=[1.0]), candidate(1, kl=[5.0], exact=False)]
    with pytest.raises(MixedCertaintyError):
        select(SelfCertainty(), pool)
    pool = [candidate(0, kl=[1.0]), candidate(1, logprobs=[-0.1])]  # no KL statistics at all
    with pytest.raises(MixedCertaintyError):
        select(SelfCertainty(), pool)


def test_the_lower_bound_has_its_own_score_name() -> None:
    top = [[(0, -0.1), (1, -3.0)], [(2, -0.5), (3, -1.5)]]
    pool = [candidate(0, top=top, kl=[9.0, 9.0]), candidate(1, top=[[(0, -2.0), (1, -2.0)]])]
    selector = SelfCertainty(SelfCertaintyConfig(source="topk_lb", k=2, vocab_size=100))
    selection = select(selector, pool)
    assert selection.score_name == "self_certainty_topk_lb"
    assert selection.winner == "c0"
    exact = select(SelfCertainty(), [candidate(0, kl=[1.0])])
    assert exact.score_name == "self_certainty"


def test_the_vocabulary_size_comes_from_the_runtime() -> None:
    top = [[(0, -0.1), (1, -3.0)]]
    via_runtime = select(SelfCertainty(SelfCertaintyConfig(source="topk_lb", k=2)),
                         [candidate(0, top=top)])
    explicit = select(SelfCertainty(SelfCertaintyConfig(source="topk_lb", k=2,
                                                        vocab_size=ScriptedRuntime.vocab_size)),
                      [candidate(0, top=top)])
    assert via_runtime.scores == explicit.scores


def test_highest_mean_kl_wins_and_ties_go_to_the_lowest_index() -> None:
    pool = [candidate(0, kl=[1.0, 3.0]), candidate(1, kl=[4.0, 0.0]), candidate(2, kl=[1.0])]
    selection = select(SelfCertainty(), pool)
    assert selection.scores == {"c0": 2.0, "c1": 2.0, "c2": 1.0}
    assert selection.winner == "c0"
    assert selection.order == ("c0", "c1", "c2")


def test_answerless_candidates_score_minus_1e9_when_answers_are_expected() -> None:
    pool = [candidate(0, None, kl=[9.0]), candidate(1, "4", kl=[1.0])]
    selection = select(SelfCertainty(), pool, task_format=LastNumber())
    assert selection.scores["c0"] == ANSWERLESS
    assert selection.winner == "c1"
    # open-ended task (no answer format): certainty alone decides
    assert select(SelfCertainty(), pool).winner == "c0"


def test_capabilities_follow_the_config() -> None:
    assert SelfCertainty().required_capabilities() == {Capability.FULL_DISTRIBUTION}
    assert SelfCertainty(SelfCertaintyConfig(source="topk_lb")).required_capabilities() == {
        Capability.TOP_LOGPROBS}
    assert Capability.SCORE in SelfCertainty(
        SelfCertaintyConfig(position_mode="reference")).required_capabilities()


def test_reference_mode_shifts_by_one_position() -> None:
    """The reference averages tokens 2…n+1: it drops the first distribution and adds the one
    after the last token, which only a re-forward (``score``) provides."""
    from ttc.plugins.runtimes import scripted

    runtime = ScriptedRuntime("scripted", ScriptedOptions())
    text = "alpha beta gamma"
    words = text.split()
    kl = [scripted.position_stats(scripted.token_id(w), 0, ()).kl_uniform for w in words]
    prompt = "<user>What is 6*7?</user>\n<assistant>"
    after = scripted.position_stats(scripted.token_id(f"after:{prompt}{text}"), 0, ()).kl_uniform
    pool = [candidate(0, text=text, kl=kl)]
    exact = select(SelfCertainty(), pool, runtime=runtime).scores["c0"]
    rescored = select(SelfCertainty(SelfCertaintyConfig(source="rescore")), pool,
                      runtime=runtime).scores["c0"]
    reference = select(SelfCertainty(SelfCertaintyConfig(position_mode="reference")), pool,
                       runtime=runtime).scores["c0"]
    assert exact == pytest.approx(sum(kl) / 3)
    assert rescored == pytest.approx(exact)
    assert reference == pytest.approx((kl[1] + kl[2] + after) / 3)
    assert runtime.calls == 2


def test_topk_without_top_logprobs_is_a_clear_error() -> None:
    with pytest.raises(TTCError, match="top_logprobs"):
        select(SelfCertainty(SelfCertaintyConfig(source="topk_lb", vocab_size=10)),
               [candidate(0, kl=[1.0])])


@settings(max_examples=40, deadline=None)
@given(values=st.lists(st.floats(0, 10, allow_nan=False), min_size=1, max_size=8),
       seed=st.randoms())
def test_the_winner_is_order_invariant_up_to_ties(values: list[float], seed) -> None:
    pool = [candidate(i, kl=[v]) for i, v in enumerate(values)]
    shuffled = list(pool)
    seed.shuffle(shuffled)
    a, b = select(SelfCertainty(), pool), select(SelfCertainty(), shuffled)
    assert a.scores[a.winner] == b.scores[b.winner] == max(values)
    # a tie goes to whichever tied candidate comes first in the given order
    assert b.winner == next(c.id for c in shuffled if c.tokens.kl_uniform[0] == max(values))
