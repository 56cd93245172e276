"""Built-in answer formats: numbers, \\boxed{} answers, choice letters and plain text.

More (math-verify equivalence, code blocks, JSON fields) come with the selectors work.
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from fractions import Fraction

from ttc.plugin_system import hookimpl
from ttc.task_format import TaskFormat

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


class Boxed(TaskFormat):
    """The last ``\\boxed{}``, else "the answer is …", else the last number."""

    name = "boxed"
    ANSWER_IS = re.compile(r"answer is:?\s*\$?([^\n$]+?)\$?\s*(?:\.|$)", re.IGNORECASE)

    def extract(self, text: str) -> str | None:
        boxed = last_boxed(text)
        if boxed:
            return boxed
        found = self.ANSWER_IS.findall(text)
        if found:
            return found[-1].strip()
        return LastNumber().extract(text)

    def key(self, answer: str) -> Hashable:
        return _number_key(answer)


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
