"""Answer extraction and equivalence (docs/methods.md V6 and the task formats of issue 6)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ttc.plugins.tasks.answer_is import AnswerIs
from ttc.plugins.tasks.builtin import Boxed, Choice, LastNumber, Text
from ttc.plugins.tasks.code_block import CodeBlock
from ttc.plugins.tasks.json_field import JsonField

HALF = [r"\frac{1}{2}", "0.5", "1/2", r"\dfrac12", "$0.5$", r"\left(\frac{1}{2}\right)"]


@pytest.mark.parametrize("a", HALF)
@pytest.mark.parametrize("b", HALF)
def test_one_half_in_every_spelling_is_equivalent(a: str, b: str) -> None:
    assert Boxed().equivalent(a, b)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("1,000", "1000", True),
        ("1000.0000001", "1000", False),  # integers compare exactly (math-verify agrees)
        ("0.333333", r"\frac{1}{3}", True),  # a decimal rounding a non-terminating value
        ("1.001", "1", False),
        ("10 dollars", "$10$", True),
        (r"x^2+1", "1+x^2", True),  # symbolic, through math-verify
        (r"\sqrt{4}", "2", True),
        ("3", "4", False),
        (r"\text{Monday}", "monday", True),
    ],
)
def test_math_equivalence(a: str, b: str, same: bool) -> None:
    assert Boxed().equivalent(a, b) is same
    assert Boxed().equivalent(b, a) is same


def test_plain_normaliser_works_without_symbolic_checking() -> None:
    fmt = Boxed(Boxed.Config(symbolic=False))
    assert fmt.equivalent(r"\frac{1}{2}", "0.5")
    assert not fmt.equivalent("x^2+1", "1+x^2")


ODD = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        ["{{", "}", r"\frac{", r"\boxed{", "$$", "1/0", r"\sqrt{}", "nan", "∞", "1e999"]
    ),
)


@settings(max_examples=60, deadline=None)
@given(a=ODD, b=ODD)
def test_equivalence_is_reflexive_symmetric_and_never_raises(a: str, b: str) -> None:
    fmt = Boxed()
    assert fmt.equivalent(a, a)
    assert fmt.equivalent(a, b) == fmt.equivalent(b, a)


@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=200))
@pytest.mark.parametrize(
    "fmt", [Boxed(), AnswerIs(), LastNumber(), Choice(), Text(), CodeBlock(), JsonField()],
    ids=lambda f: f.name,
)
def test_extraction_never_raises(fmt, text: str) -> None:
    answer = fmt.extract(text)
    assert answer is None or isinstance(answer, str)


@pytest.mark.parametrize("text", ["", "no answer here", r"\boxed{", "{{{", "```\n", "   "])
def test_unparseable_input_gives_none(text: str) -> None:
    for fmt in (Boxed(), AnswerIs(), CodeBlock(), JsonField()):
        assert fmt.extract(text) is None, fmt.name


def test_groups_join_the_lowest_index_equivalent_answer() -> None:
    groups = Boxed().groups(["7", "1/2", None, "0.5", r"\frac{1}{2}", "7.0", "8"])
    assert groups == [0, 1, None, 1, 1, 0, 2]


def test_groups_with_tolerance_chain_use_the_first_representative() -> None:
    # 0.3333 ≈ 1/3 and 0.33333 ≈ 1/3, but two written decimals compare exactly, so
    # 0.3333 ≉ 0.33333: the third answer opens its own group because it is compared with
    # the representatives (0.3333), not with the previous member (1/3).
    groups = LastNumber().groups(["0.3333", "1/3", "0.33333"])
    assert groups == [0, 0, 1]


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        (r"so $x = \boxed{\frac{3}{4}}$ and \boxed{5}", "5"),
        (r"\boxed{\frac{1}{2}}", "1/2"),
        ("The answer is 3.5.", "3.5"),
        ("Total: 1,234 apples", "1234"),
    ],
)
def test_boxed_extraction(text: str, answer: str) -> None:
    assert Boxed().extract(text) == answer


def test_answer_is_takes_the_last_statement() -> None:
    fmt = AnswerIs()
    assert fmt.extract("First the answer is 3. Wait, the answer is $\\frac{1}{2}$.") == "1/2"
    assert fmt.extract("Final answer: 42") == "42"
    assert fmt.equivalent("1/2", "0.5")


def test_last_number_and_choice_letter() -> None:
    assert LastNumber().extract("3 apples and -2.5 pears") == "-2.5"
    assert Choice().extract("I think the answer is (C).") == "C"
    assert Choice().extract("Answer: b") == "B"


def test_code_block_takes_the_last_block_and_ignores_trailing_space() -> None:
    text = "```python\nx = 1\n```\nbetter:\n```python\nx = 2   \n\n```"
    fmt = CodeBlock()
    assert fmt.extract(text) == "x = 2   "
    assert fmt.equivalent(fmt.extract(text) or "", "x = 2")
    assert CodeBlock(CodeBlock.Config(language="js")).extract(text) is None


def test_json_field_reads_the_last_object_and_nested_paths() -> None:
    fmt = JsonField(JsonField.Config(field="result.value"))
    text = 'draft {"result": {"value": 1}} final ```json\n{"result": {"value": [1, 2]}}\n```'
    assert fmt.extract(text) == "[1,2]"
    assert JsonField().extract('{"answer": "  Paris "}') == "Paris"
    assert JsonField().equivalent('{"b": 1, "a": 2}', '{"a":2,"b":1}')
    assert JsonField().extract('{"other": 1}') is None


def test_text_is_case_and_whitespace_insensitive() -> None:
    fmt = Text()
    assert fmt.equivalent(fmt.extract("  Hello\n World ") or "", "hello world")
