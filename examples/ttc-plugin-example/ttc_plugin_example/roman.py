"""``roman_number``: an answer format where ``XIV`` and ``14`` are the same answer."""

from __future__ import annotations

import re
from collections.abc import Hashable

from ttc import TaskFormat

NUMERAL = re.compile(r"\b(?:[MDCLXVI]+|\d+)\b")
VALUES = {"M": 1000, "D": 500, "C": 100, "L": 50, "X": 10, "V": 5, "I": 1}


def roman_value(numeral: str) -> int | None:
    """The value of a well-formed Roman numeral, else None (``IIII`` and ``VX`` are not)."""
    total = 0
    for i, letter in enumerate(numeral):
        value = VALUES[letter]
        following = VALUES[numeral[i + 1]] if i + 1 < len(numeral) else 0
        total += -value if value < following else value
    return total if total > 0 and to_roman(total) == numeral else None


def to_roman(value: int) -> str:
    out = ""
    for text, amount in (("M", 1000), ("CM", 900), ("D", 500), ("CD", 400), ("C", 100),
                         ("XC", 90), ("L", 50), ("XL", 40), ("X", 10), ("IX", 9), ("V", 5),
                         ("IV", 4), ("I", 1)):
        while value >= amount:
            out, value = out + text, value - amount
    return out


class RomanNumber(TaskFormat):
    """The last number in the text, in digits or Roman numerals."""

    name = "roman_number"

    def extract(self, text: str) -> str | None:
        for token in reversed(NUMERAL.findall(text)):
            if token.isdigit() or roman_value(token) is not None:
                return token
        return None

    def key(self, answer: str) -> Hashable:
        return int(answer) if answer.isdigit() else roman_value(answer)
