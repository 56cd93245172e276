"""``arithmetic_check``: the arithmetic a candidate states, re-checked exactly and safely."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scripted_support import component_context

from ttc.candidate import Candidate
from ttc.plugins.verifiers.arithmetic_check import ArithmeticCheck, ArithmeticCheckConfig
from ttc.plugins.verifiers.arithmetic_claims import claims, evaluate
from ttc.state import State


@pytest.mark.parametrize(("text", "verdicts"), [
    ("So 37 + 48 = 85 and 23 * 7 = 156.", [True, False]),
    ("12 x 4 = 48, then 48 ÷ 6 = 8", [True, True]),
    ("(17 + 8) × 4 = 100", [True]),
    ("10 / 3 = 3.33", [True]),      # rounded to the decimals written
    ("10 / 3 = 3", [False]),
    ("1,000 + 250 = 1,250", [True]),
    ("7 − 2 = 5", [True]),          # a Unicode minus
    ("x = 5 and 2x + 3 = 7", []),   # algebra is not arithmetic
    ("1/0 = 3", []),                # undefined: not a claim either way
    ("9**9**9 = 1", []),            # powers are never evaluated
])
def test_claims_are_found_and_checked(text, verdicts):
    assert [c.correct for c in claims(text)] == verdicts


def test_nothing_but_arithmetic_is_ever_evaluated():
    assert evaluate("__import__('os').system('true')") is None
    assert evaluate("(1).__class__") is None
    assert evaluate("999999999 * 999999999") is None  # past 10^15


@given(st.integers(0, 10**6), st.integers(1, 10**6), st.sampled_from("+-*×/÷"),
       st.integers(-3, 3))
def test_a_stated_result_is_right_exactly_when_it_is_the_value(a, b, op, offset):
    from fractions import Fraction

    value = {"+": a + b, "-": a - b, "*": a * b, "×": a * b,
             "/": Fraction(a, b), "÷": Fraction(a, b)}[op]
    if isinstance(value, Fraction) and value.denominator != 1:
        return  # a fraction is written rounded; covered above
    stated = int(value) + offset
    (claim,) = claims(f"{a} {op} {b} = {stated}")
    assert claim.correct is (offset == 0)


def test_the_component_scores_each_candidate_and_keeps_what_it_checked():
    ctx, _, task = component_context()
    pool = (Candidate(id="a", text="3 + 4 = 7 and 7 × 2 = 14, so 14"),
            Candidate(id="b", text="3 + 4 = 8, so 16"),
            Candidate(id="c", text="the answer is 14"))
    state = asyncio.run(ArithmeticCheck(ArithmeticCheckConfig(no_claims=0.25)).run(
        State(task=task, pool=pool), ctx))
    assert [c.id for c in state.pool] == ["a", "b", "c"]  # annotates: same candidates
    assert [c.scores["arithmetic_check"] for c in state.pool] == [1.0, 0.0, 0.25]
    record = state.pool[1].artifacts["arithmetic_check"]
    assert record == [{"expression": "3 + 4", "stated": "8", "value": "7", "correct": False}]
