"""``task: number``: reading the last number out of prose, and when two numbers agree."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ttc.plugins.tasks.builtin import LastNumber
from ttc.plugins.tasks.numbers import read_number


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        # digit grouping: a comma followed by exactly three digits, from a 1-3 digit head
        ("Total: 1,234,567 grains", "1234567"),
        ("It costs $1,000.50 in all.", "1000.50"),
        ("the pair is 2,3", "3"),  # two numbers, never 23
        ("1,2345", "2345"),  # not a grouping: two numbers
        # minus signs a model writes
        ("so x = −5", "-5"),  # U+2212 minus sign
        ("so x = –5", "-5"),  # en dash directly before a digit
        ("x = -3", "-3"),
        ("x=-3", "-3"),
        ("pages 10–12", "12"),  # a dash between numbers is a range, not a sign
        ("7-2", "2"),  # ... or a subtraction
        ("a wall—5 m high", "5"),  # an em dash is punctuation
        # scientific notation
        ("about 1.5e-3 of it", "1.5e-3"),
        ("2E5 cells", "2e5"),
        ("3×10^4 stars", "3e4"),
        (r"$3 \times 10^{-4}$", "3e-4"),
        ("6.02·10²³", "6.02e23"),
        ("1E+5", "1e5"),
        ("2ea5", "5"),  # an "e" not followed by a signed integer is no exponent
        ("3e.5", ".5"),
        # punctuation and words around numbers
        ("42.", "42"),
        ("The answer is 7.", "7"),
        ("3apples", "3"),
        ("50% of them", "50"),
        ("version 1.2.3", "3"),
        # fractions and mixed numbers
        ("3/4 of a cup", "3/4"),
        ("1 1/2 cups", "3/2"),
        ("-2 1/4", "-9/4"),
        ("step 2 5/4", "5/4"),  # not a proper fraction: not a mixed number
        ("no digits here", None),
    ],
)
def test_last_number_extraction(text: str, answer: str | None) -> None:
    assert LastNumber().extract(text) == answer


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1.5e-3", Fraction(3, 2000)),
        ("2E5", Fraction(200000)),
        ("3×10^4", Fraction(30000)),
        ("−5", Fraction(-5)),
        ("1,234,567", Fraction(1234567)),
        ("1 1/2", Fraction(3, 2)),
        (".5", Fraction(1, 2)),
    ],
)
def test_read_number_values(text: str, value: Fraction) -> None:
    number = read_number(text)
    assert number is not None and number.value == value


@pytest.mark.parametrize("text", ["2,3", "1,23", "12,3456", "nan", "inf", "1e99999", "", "-"])
def test_read_number_refuses_what_is_not_one_number(text: str) -> None:
    assert read_number(text) is None


def test_a_degenerate_run_of_digits_is_no_number_and_never_raises() -> None:
    """Python refuses int() of more than 4300 digits; a looping model can write that many."""
    run = "9" * 5000
    fmt = LastNumber()
    assert fmt.extract(f"7 then {run}") == "7"
    assert fmt.key(run) == run
    assert not fmt.equivalent(run, run + "1")


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        # integers and written decimals compare exactly
        ("1000000", "1000001", False),
        ("1000000", "1000000.0", True),
        ("1000.0000001", "1000", False),
        ("0.5", "0.50000001", False),
        ("2.50", "2.5", True),
        ("1,000", "1000", True),
        ("3/4", "0.75", True),
        ("1.5e-3", "0.0015", True),
        ("2e5", "200000", True),
        ("-5", "−5", True),
        # a decimal of 4+ significant digits stands for a value it is a rounding or a
        # truncation of, when that value has no finite decimal expansion
        ("0.333333", "1/3", True),
        ("0.3333", "1/3", True),
        ("0.6667", "2/3", True),  # rounded
        ("0.6666", "2/3", True),  # truncated
        ("-0.6667", "-2/3", True),
        ("0.6668", "2/3", False),
        ("0.333", "1/3", False),  # three significant digits are not enough
        ("0.33", "1/3", False),
        ("3333", "10000/3", False),  # an integer is never an approximation
        ("0.3333", "0.33333", False),  # two written decimals: exact
    ],
)
def test_number_equivalence(a: str, b: str, same: bool) -> None:
    fmt = LastNumber()
    assert fmt.equivalent(a, b) is same
    assert fmt.equivalent(b, a) is same


def test_integers_that_differ_in_the_last_digit_get_separate_votes() -> None:
    assert LastNumber().groups(["1000000", "1000001", "1,000,000"]) == [0, 1, 0]


NUMBERISH = st.text(alphabet="0123456789.,eE+-−–×*^{}/ %$x⁴⁻\\timescdot", max_size=40)


@settings(max_examples=300, deadline=None)
@given(text=NUMBERISH)
def test_an_extracted_number_always_reads_back_as_that_number(text: str) -> None:
    answer = LastNumber().extract(text)
    if answer is not None:
        number = read_number(answer)
        assert number is not None and number.text == answer
        assert isinstance(LastNumber().key(answer), Fraction)
