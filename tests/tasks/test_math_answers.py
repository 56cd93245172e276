"""``task: boxed`` and ``answer_is``: normalising LaTeX answers and comparing them
(docs/methods.md V6)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ttc.plugins.tasks.answer_is import AnswerIs
from ttc.plugins.tasks.builtin import Boxed
from ttc.plugins.tasks.math_equivalence import _symbolic_equal, math_key, normalise


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        (r"\boxed{\$18}", "18"),
        (r"\boxed{\$1{,}000.50}", "1000.50"),
        (r"\boxed{−5}", "-5"),
        (r"\boxed{x = -3}", "-3"),
        (r"\boxed{3\frac{1}{2}}", "7/2"),
        (r"\boxed{3 1/2}", "7/2"),
        (r"\boxed{\dfrac{3}{4}}", "3/4"),
        (r"\boxed{1.5\times 10^{-3}}", "1.5e-3"),
        (r"\boxed{5\text{ cm}}", "5"),
        (r"\boxed{5\,\text{cm}^2}", "5"),
        (r"\boxed{12 \text{ square units}}", "12"),
        (r"\boxed{12 square units}", "12"),
        (r"\boxed{\text{5 cm}}", "5"),
        (r"\boxed{90^\circ}", "90"),
        (r"\boxed{50\%}", "50"),
        (r"\boxed{2,3}", "2,3"),
        (r"\boxed{\sqrt 2}", r"\sqrt{2}"),
        (r"\boxed{\sqrt 23}", r"\sqrt{2}3"),  # LaTeX: only the next token is under the root
        (r"\fbox{7}", "7"),
        ("The answer is 42.", "42"),
        ("so the answer is −7.", "-7"),
    ],
)
def test_boxed_extraction_normalises(text: str, answer: str) -> None:
    assert Boxed().extract(text) == answer


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (r"\$18", "18", True),
        (r"5\text{ cm}", "5", True),
        (r"5\text{cm}", "5", True),
        (r"5\mathrm{~cm}", "5", True),
        ("5 m", "5", True),
        ("3x", "3", False),  # a letter glued to a number is a variable, not a unit
        ("1000000", "1000001", False),
        ("1,000,000", "1000000", True),
        ("1000.0000001", r"\sqrt{1000000}", False),  # integers compare exactly, also symbolically
        ("2,3", "23", False),
        ("−5", "-5", True),
        (r"1.5\times10^{-3}", "0.0015", True),
        ("1.5e-3", "0.0015", True),
        (r"3\times 10^4", "30000", True),
        (r"\$1,000.50", "1000.5", True),
        ("x = -3", "-3", True),
        (r"3\frac{1}{2}", "3.5", True),
        (r"\dfrac{3}{4}", "0.75", True),
        (r"\tfrac34", "3/4", True),
        (r"-\frac{1}{2}", "-0.5", True),
        (r"\sqrt{2}", r"\sqrt 2", True),
        ("0.333333", r"\frac{1}{3}", True),
        ("0.33", r"\frac{1}{3}", False),
        # a decimal against an irrational value: the same rule as against 1/3
        ("1.41421", r"\sqrt{2}", True),
        ("1.4142", r"\sqrt{2}", True),
        ("1.414", r"\sqrt{2}", True),
        ("1.41", r"\sqrt{2}", False),
        ("3.1416", r"\pi", True),
        ("3.14", r"\pi", False),
        # symbolic equivalence is math-verify's
        (r"\frac{\sqrt{8}}{\sqrt{2}}", "2", True),
        (r"\frac{\sqrt{8}}{\sqrt{2}}", "2.0001", False),
        (r"\{1, 2\}", r"\{2, 1\}", True),
        (r"50\%", "50", True),
        ("42.", "42", True),
    ],
)
def test_math_equivalence_rules(a: str, b: str, same: bool) -> None:
    for fmt in (Boxed(), AnswerIs()):
        assert fmt.equivalent(a, b) is same, fmt.name
        assert fmt.equivalent(b, a) is same, fmt.name


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (r"\$18", "18"),
        (r"5\text{ cm}", "5"),
        ("−5", "-5"),
        ("x = -3", "-3"),
        (r"1.5\times10^{-3}", "0.0015"),
        (r"\sqrt 2", r"\sqrt{2}"),
        (r"3\frac12", "7/2"),
        ("1,000", "1000"),
    ],
)
def test_common_spellings_meet_on_the_fast_path(a: str, b: str) -> None:
    """Votes group hundreds of answers by key; these must not need math-verify."""
    assert math_key(a) == math_key(b)


def test_normalise_keeps_lists_and_tuples() -> None:
    assert normalise("(1,234)") == "(1,234)"
    assert normalise("1,2,3") == "1,2,3"


LATEX_PIECES = st.sampled_from([
    "\\frac", "{", "}", "1", "2", "3", "0", ".", ",", "-", "−", " ", "x", "=", "\\text{ cm}",
    "\\$", "$", "\\sqrt", "e", "\\times", "10", "^", "%", "(", ")", "/", "\\boxed{", "\\,",
    "{,}", "\\left(", "\\right)", "m", "units", "\\circ", "\\pi",
])


@settings(max_examples=300, deadline=None)
@given(answer=st.lists(LATEX_PIECES, max_size=12).map("".join))
def test_normalising_latex_fragments_is_idempotent_and_never_raises(answer: str) -> None:
    once = normalise(answer)
    assert normalise(once) == once
    assert Boxed(Boxed.Config(symbolic=False)).equivalent(answer, answer)


def test_the_fingerprint_prefilter_leaves_lone_symbols_to_math_verify() -> None:
    """math-verify matches a symbol with the product of its letters (``\\text{Tuesday}`` is
    t·u·e·s·d·a·y); their fingerprints differ, so the prefilter must not decide that."""
    assert _symbolic_equal(r"\text{Tuesday}", "tuesday")
