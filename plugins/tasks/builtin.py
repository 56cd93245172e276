"""Built-in answer formats: numbers, \\boxed{} answers, choice letters and plain text.

Code blocks, JSON fields and "the answer is" live in their own modules of this package.
"""

from __future__ import annotations

import re
from collections.abc import Hashable

from pydantic import Field

from ttc.plugin_system import hookimpl
from ttc.plugins.tasks.math_equivalence import (
    SymbolicConfig,
    last_boxed,
    math_equivalent,
    math_key,
    normalise,
)
from ttc.plugins.tasks.numbers import Number, last_number, numbers_equivalent, read_number
from ttc.registry import RegisterTask
from ttc.task_format import TaskFormat, TaskFormatConfig

_NUMBER_DECORATION = re.compile(r"^[$€£¥\s]+|[\s%.]+$")


def _read_answer(answer: str) -> Number | None:
    """An answer read as one number, allowing currency before and ``%`` or a full stop after."""
    return read_number(_NUMBER_DECORATION.sub("", answer))


class LastNumber(TaskFormat[TaskFormatConfig]):
    """The last number in the text; 1,000 ≡ 1000 ≡ 1000.0, 1/2 ≡ 0.5, integers exactly.

    Digit grouping, minus signs, scientific notation, mixed numbers and the one tolerance
    (a decimal of 4+ significant digits for a non-terminating value: 0.3333 ≡ 1/3) are
    described in ``ttc.plugins.tasks.numbers``. No symbolic maths: that is ``boxed``.
    """

    name = "number"

    def extract(self, text: str) -> str | None:
        found = last_number(text)
        return found.text if found else None

    def key(self, answer: str) -> Hashable:
        """The exact value (a Fraction), or the stripped, case-folded text if not a number."""
        number = _read_answer(answer)
        return number.value if number is not None else " ".join(answer.split()).casefold()

    def equivalent(self, a: str, b: str) -> bool:
        if self.key(a) == self.key(b):
            return True
        na, nb = _read_answer(a), _read_answer(b)
        return na is not None and nb is not None and numbers_equivalent(na, nb)


class BoxedConfig(SymbolicConfig):
    fallback_number: bool = Field(default=True)
    """Without a box or an "answer is", take the last number in the text."""


class Boxed(TaskFormat[BoxedConfig]):
    """Math answers: the last ``\\boxed{}``, else "the answer is …", else the last number.

    Answers are normalised (``$``, ``\\$``, ``\\left``/``\\right``, digit grouping, units,
    minus dashes, ``x =``) and compared as normal forms, then as exact numbers (integers
    exactly; 0.3333 ≡ 1/3 is the one tolerance), then symbolically through math-verify
    (docs/methods.md V6). The rules are in ``ttc.plugins.tasks.math_equivalence``.
    """

    name = "boxed"
    Config = BoxedConfig
    ANSWER_IS = re.compile(r"answer is:?\s*\$?([^\n$]+?)\$?\s*(?:\.\s|\.$|$)",
                           re.IGNORECASE | re.MULTILINE)

    def extract(self, text: str) -> str | None:
        config = self.config
        found = last_boxed(text)
        if not found:
            matches = self.ANSWER_IS.findall(text)
            found = matches[-1].strip() if matches else None
        if not found and config.fallback_number:
            found = LastNumber().extract(text)
        if not found:
            return None
        return normalise(found) or None

    def key(self, answer: str) -> Hashable:
        return math_key(answer)

    def equivalent(self, a: str, b: str) -> bool:
        config = self.config
        return self.key(a) == self.key(b) or math_equivalent(a, b, symbolic=config.symbolic)

    def read_reference(self, reference: str) -> str | None:
        """A reference is the answer itself (``\\frac{1}{2}``, ``18``), boxed or not: it is
        normalised, never searched for a last number."""
        return normalise(last_boxed(reference) or reference) or None


class Math(Boxed):
    """Math answers graded with math-verify: the name data sets use (``"task": "math"``);
    the rules are those of ``boxed``."""

    name = "math"


class Choice(TaskFormat[TaskFormatConfig]):
    """A multiple-choice letter A–J: "(B)", "answer: B", or a lone letter at the end."""

    name = "choice"
    PATTERNS = (
        re.compile(r"answer(?: is)?:?\s*\(?([A-J])\b\)?", re.IGNORECASE),
        re.compile(r"\(([A-J])\)"),
        re.compile(r"\b([A-J])\b\W*$"),
    )

    def extract(self, text: str) -> str | None:
        for pattern in self.PATTERNS:
            found = pattern.findall(text)
            if found:
                return found[-1].upper()
        return None


class Text(TaskFormat[TaskFormatConfig]):
    """The whole completion is the answer; case and whitespace do not matter."""

    name = "text"

    def extract(self, text: str) -> str | None:
        stripped = " ".join(text.split())
        return stripped or None

    def key(self, answer: str) -> Hashable:
        return " ".join(answer.split()).casefold()


@hookimpl
def ttc_register_tasks(register: RegisterTask) -> None:
    for cls in (LastNumber, Boxed, Math, Choice, Text):
        register(cls)
