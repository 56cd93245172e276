"""Built-in answer formats: numbers, \\boxed{} answers, choice letters and plain text.

Code blocks, JSON fields and "the answer is" live in their own modules of this package.
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from fractions import Fraction

from pydantic import Field

from ttc.plugin_system import hookimpl
from ttc.plugins.tasks.math_equivalence import (
    as_number,
    math_equivalent,
    math_key,
    normalise,
    numbers_close,
)
from ttc.task_format import TaskFormat, TaskFormatConfig

NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?|-?\.\d+")


def _number_key(text: str) -> Hashable:
    cleaned = text.replace(",", "").replace("$", "").strip()
    try:
        value = Fraction(cleaned)
    except (ValueError, ZeroDivisionError):
        return cleaned.lower()
    return value


class LastNumber(TaskFormat):
    """The last number in the text; 1,000 ≡ 1000 ≡ 1000.0, and 1/2 ≡ 0.5."""

    name = "number"

    def extract(self, text: str) -> str | None:
        found = NUMBER.findall(text)
        return found[-1].replace(",", "") if found else None

    def key(self, answer: str) -> Hashable:
        return _number_key(answer)

    def equivalent(self, a: str, b: str) -> bool:
        """Equal keys, or numbers within a relative tolerance of 1e-6."""
        if self.key(a) == self.key(b):
            return True
        va, vb = as_number(normalise(a)), as_number(normalise(b))
        return va is not None and vb is not None and numbers_close(va, vb)


def last_boxed(text: str) -> str | None:
    """The content of the last ``\\boxed{...}``, braces balanced."""
    start = text.rfind("\\boxed{")
    if start < 0:
        return None
    depth, i = 0, start + len("\\boxed{")
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            if depth == 0:
                return text[i:j].strip()
            depth -= 1
    return None


class BoxedConfig(TaskFormatConfig):
    symbolic: bool = True
    """After string and numeric comparison, try SymPy equivalence through math-verify
    (slower; off compares normal forms and numbers only)."""
    fallback_number: bool = Field(default=True)
    """Without a box or an "answer is", take the last number in the text."""


class Boxed(TaskFormat):
    """Math answers: the last ``\\boxed{}``, else "the answer is …", else the last number.

    Answers are normalised (``$``, ``\\left``/``\\right``, thousands separators, units) and
    compared as strings, then numbers (relative tolerance 1e-6: ``\\frac{1}{2}`` ≡ 0.5 ≡
    1/2), then symbolically (METHODS V6).
    """

    name = "boxed"
    Config = BoxedConfig
    ANSWER_IS = re.compile(r"answer is:?\s*\$?([^\n$]+?)\$?\s*(?:\.\s|\.$|$)",
                           re.IGNORECASE | re.MULTILINE)

    def extract(self, text: str) -> str | None:
        config: BoxedConfig = self.config  # type: ignore[assignment]
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
        config: BoxedConfig = self.config  # type: ignore[assignment]
        return self.key(a) == self.key(b) or math_equivalent(a, b, symbolic=config.symbolic)


class Choice(TaskFormat):
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


class Text(TaskFormat):
    """The whole completion is the answer; case and whitespace do not matter."""

    name = "text"

    def extract(self, text: str) -> str | None:
        stripped = " ".join(text.split())
        return stripped or None

    def key(self, answer: str) -> Hashable:
        return " ".join(answer.split()).casefold()


@hookimpl
def ttc_register_tasks(register) -> None:
    for cls in (LastNumber, Boxed, Choice, Text):
        register(cls)
