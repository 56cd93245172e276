"""Candidates cut off at ``max_tokens``: self-certainty and Borda can rank them last or take
their votes away (``truncated: last|drop``); ``keep`` is the paper's behaviour."""

from __future__ import annotations

import asyncio
import dataclasses

from selector_support import candidate, make_context

from ttc.plugins.selectors.borda import Borda, BordaConfig
from ttc.plugins.selectors.self_certainty import SelfCertainty, SelfCertaintyConfig
from ttc.plugins.tasks.builtin import LastNumber


def cut(c):
    return dataclasses.replace(c, finish_reason="length")


def pool():
    # the two rambling, truncated candidates are the most certain and agree on 9
    return (cut(candidate(0, "9", kl=[5.0, 5.0])), cut(candidate(1, "9", kl=[4.0, 4.0])),
            candidate(2, "7", kl=[1.0, 1.0]), candidate(3, "7", kl=[0.5, 0.5]),
            candidate(4, "7", kl=[0.2, 0.2]))


def select(selector):
    return asyncio.run(selector.select(pool(), make_context(LastNumber())))


def test_keep_is_the_papers_ranking():
    assert select(SelfCertainty(SelfCertaintyConfig())).winner == "c0"
    assert select(Borda(BordaConfig(p=3.0))).answer == "9"  # 5^3 + 4^3 > 3^3 + 2^3 + 1


def test_last_ranks_truncated_candidates_below_every_complete_one():
    selection = select(SelfCertainty(SelfCertaintyConfig(truncated="last")))
    assert selection.winner == "c2"
    assert list(selection.order[-2:]) == ["c0", "c1"]


def test_borda_last_gives_truncated_candidates_the_fewest_votes():
    selection = select(Borda(BordaConfig(p=3.0, truncated="last")))
    assert selection.answer == "7"  # 5^3 + 4^3 + 3^3 for 7 against 2^3 + 1 for 9
    assert selection.details["votes"]["9"] == 2.0**3 + 1


def test_borda_drop_takes_their_votes_away():
    selection = select(Borda(BordaConfig(p=0.0, truncated="drop")))  # p=0: one vote each
    assert selection.details["votes"] == {"9": 0.0, "7": 3.0}


def test_with_every_candidate_truncated_last_still_picks_by_certainty():
    every = tuple(cut(c) for c in pool())
    context = make_context(LastNumber())
    selection = asyncio.run(SelfCertainty(SelfCertaintyConfig(truncated="last")).select(
        every, context))
    assert selection.winner == "c0"
