"""Plain numbers: finding them in prose, reading them exactly, and when two of them agree.

Rules (the `number` task and the fast path of the math tasks both follow them):

- **Digit grouping.** A comma is a thousands separator only in a proper grouping: a 1-3
  digit head, then groups of exactly three digits (``1,234,567``, ``$1,000.50``). Any other
  comma separates numbers: ``2,3`` is 2 and 3 (an English list or a pair), never 23 and
  not a decimal comma.
- **Signs.** ``-`` and the dashes models write for minus (U+2212 minus, en dash, figure
  dash, hyphens, small and full-width hyphen-minus) are a sign when they stand right before
  the digits and not right after a letter, digit or closing bracket: ``x = −5`` is -5, but
  ``10–12`` (a range) and ``7-2`` (a subtraction) end in 12 and 2. An em dash is punctuation.
- **Scientific notation.** ``1.5e-3``, ``2E5``, ``3×10^4``, ``3 \\times 10^{4}`` and
  ``6.02·10²³`` are one number each.
- **Fractions and mixed numbers.** ``3/4`` is one number; ``1 1/2`` is 3/2 when the
  fraction is proper (``2 5/4`` is 2 and 5/4).
- **Exactness.** Values are exact rationals, so integers (and any two written decimals)
  compare exactly: 1000000 ≠ 1000001 and 0.5 ≠ 0.50000001. The one tolerance: a decimal
  with at least ``MIN_SIGNIFICANT_DIGITS`` significant digits stands for a value with no
  finite decimal expansion (1/3, and through math-verify √2 or π) when it is that value
  rounded or truncated at its last written digit: 0.3333 ≡ 0.333333 ≡ 1/3, 0.6666 ≡ 0.6667
  ≡ 2/3, but 0.33 ≢ 1/3 and 3333 ≢ 10000/3.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

MIN_SIGNIFICANT_DIGITS = 4
"""A decimal needs this many significant digits to stand for a non-terminating value."""

MAX_EXPONENT = 400
"""Larger powers of ten are not read as numbers (they would be huge exact integers)."""

MAX_DIGITS = 1000
"""Longer runs of digits are degenerate output, not numbers (Python's ``int()`` refuses
more than 4300 digits)."""

MINUS_SIGNS = "-\u2212\u2013\u2012\u2010\u2011\ufe63\uff0d"
"""Hyphen-minus, minus sign, en dash, figure dash, hyphen, non-breaking hyphen, small and
full-width hyphen-minus: what models write for a minus (the em dash is left out). It starts
with ``-`` so that it reads literally at the start of a regular-expression class."""

_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
_SIGN = rf"(?P<sign>(?<![\w.)\]}}])[{MINUS_SIGNS}])?"
_MANTISSA = r"(?P<mantissa>(?<!\d)(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?|(?<![\d.])\.\d+)"
_EXPONENT = (
    rf"(?:[eE](?P<e>[{MINUS_SIGNS}+]?\d+)"
    rf"|[ \t]*(?:×|\\times|\\cdot|·|⋅|\*)[ \t]*10(?:[ \t]*\^[ \t]*"
    rf"(?:\{{[ \t]*(?P<p1>[{MINUS_SIGNS}+]?\d+)[ \t]*\}}|(?P<p2>[{MINUS_SIGNS}+]?\d+))"
    rf"|(?P<p3>⁻?[⁰¹²³⁴⁵⁶⁷⁸⁹]+)))"
)
_DENOMINATOR = r"/(?P<den>\d+)(?!\.\d)"
NUMBER = re.compile(rf"{_SIGN}{_MANTISSA}(?:{_EXPONENT}|{_DENOMINATOR})?")
"""One number token in prose (the mixed-number join happens in ``find_numbers``)."""

_MIXED_GAP = re.compile(r"[ \t\u00a0]+")


@dataclass(frozen=True, slots=True)
class Number:
    """An exactly read number and how it was written."""

    value: Fraction
    text: str
    """Canonical spelling: ASCII minus, no grouping commas, ``e`` exponent, ``a/b``."""
    ulp: Fraction | None = None
    """The unit of the last written digit of a decimal (0.001 for 1.234); None when the
    number is exact as written (an integer or a fraction)."""


def find_numbers(text: str) -> list[Number]:
    """Every number in ``text``, in order; a whole number followed by a proper fraction
    (``1 1/2``) is one mixed number."""
    found: list[tuple[re.Match[str], Number]] = []
    for match in NUMBER.finditer(text):
        number = _from_match(match)
        if number is None:
            continue
        if found and _joins_mixed(text, found[-1][0], match):
            previous = found.pop()[1]
            number = _mixed(previous, number)
        found.append((match, number))
    return [number for _, number in found]


def last_number(text: str) -> Number | None:
    """The last number in ``text`` (see ``find_numbers``), or None."""
    numbers = find_numbers(text)
    return numbers[-1] if numbers else None


@lru_cache(maxsize=8192)
def read_number(text: str) -> Number | None:
    """``text`` read as exactly one number (surrounding spaces allowed), else None."""
    stripped = text.strip()
    matches = list(NUMBER.finditer(stripped))
    if not matches or matches[0].start() != 0 or matches[-1].end() != len(stripped):
        return None
    if len(matches) == 1:
        return _from_match(matches[0])
    if len(matches) == 2 and _joins_mixed(stripped, matches[0], matches[1]):
        whole, fraction = _from_match(matches[0]), _from_match(matches[1])
        return _mixed(whole, fraction) if whole and fraction else None
    return None


def numbers_equivalent(a: Number, b: Number) -> bool:
    """Equal values, or one is a decimal standing for the other (see the module rules)."""
    return a.value == b.value or approximates(a, b.value) or approximates(b, a.value)


def approximates(decimal: Number, value: Fraction, *, terminating: bool | None = None) -> bool:
    """Whether ``decimal`` is ``value`` rounded or truncated at its last written digit.

    Only a written decimal of at least ``MIN_SIGNIFICANT_DIGITS`` significant digits can
    approximate, and only a value with no finite decimal expansion can be approximated
    (``terminating=False`` says so for a value known only to many digits, such as √2).
    """
    if decimal.ulp is None:
        return False
    if terminating is None:
        terminating = _terminates(value)
    if terminating:
        return False
    digits = decimal.value / decimal.ulp
    if digits.denominator != 1 or len(str(abs(digits.numerator))) < MIN_SIGNIFICANT_DIGITS:
        return False
    scaled = value / decimal.ulp
    return digits.numerator in (math.trunc(scaled), math.floor(scaled + Fraction(1, 2)))


def _terminates(value: Fraction) -> bool:
    denominator = value.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    return denominator == 1


def _from_match(match: re.Match[str]) -> Number | None:
    mantissa = match.group("mantissa").replace(",", "")
    if len(mantissa) > MAX_DIGITS or len(match.group("den") or "") > MAX_DIGITS:
        return None
    negative = match.group("sign") is not None
    sign = "-" if negative else ""
    den = match.group("den")
    if den is not None:
        if int(den) == 0:
            return None
        value = Fraction(mantissa) / int(den)
        return Number(-value if negative else value, f"{sign}{mantissa}/{den}")
    exponent_text = match.group("e") or match.group("p1") or match.group("p2")
    if exponent_text is None and match.group("p3"):
        exponent_text = match.group("p3").translate(_SUPERSCRIPTS)
    exponent = 0
    if exponent_text is not None:
        exponent = int(exponent_text.translate(_ASCII_MINUS))
        if abs(exponent) > MAX_EXPONENT:
            return None
    value = Fraction(mantissa) * Fraction(10) ** exponent
    ulp = None
    if "." in mantissa:
        ulp = Fraction(10) ** (exponent - len(mantissa.split(".", 1)[1]))
    text = f"{sign}{mantissa}" + (f"e{exponent}" if exponent_text is not None else "")
    return Number(-value if negative else value, text, ulp)


_ASCII_MINUS = str.maketrans({c: "-" for c in MINUS_SIGNS})


def _joins_mixed(text: str, previous: re.Match[str], match: re.Match[str]) -> bool:
    """``previous`` is a whole number and ``match`` a proper unsigned fraction right after."""
    if previous.group("den") is not None or match.group("den") is None:
        return False
    if match.group("sign") is not None or not match.group("mantissa").isdigit():
        return False
    if not previous.group("mantissa").isdigit():
        return False
    if any(previous.group(name) for name in ("e", "p1", "p2", "p3")):
        return False
    if not _MIXED_GAP.fullmatch(text, previous.end(), match.start()):
        return False
    return Fraction(match.group("mantissa")) < int(match.group("den"))


def _mixed(whole: Number, fraction: Number) -> Number:
    magnitude = abs(whole.value) + fraction.value
    value = -magnitude if whole.value < 0 or whole.text.startswith("-") else magnitude
    sign = "-" if value < 0 else ""
    return Number(value, f"{sign}{magnitude.numerator}/{magnitude.denominator}")
