"""Math answer normalisation and equivalence (docs/methods.md V6).

Equivalence is tried cheapest first, and each step owns one kind of answer:

1. **Normal form** (``normalise``): equal strings, case-insensitively. Normalising removes
   ``$``, ``\\$`` and other currency signs, ``\\left``/``\\right``, spacing commands,
   units (a trailing ``\\text{…}`` after a value, common unit words, ``%``, degrees) and a
   leading ``x =``, and turns the dashes models write for minus into ``-``. An answer that
   is one plain number (``\\frac{3}{4}``, ``3\\frac12``, ``1{,}000``, ``1.5\\times10^{-3}``)
   becomes its canonical spelling (``3/4``, ``7/2``, ``1000``, ``1.5e-3``), so common
   spellings meet on the fast path (``math_key``) without SymPy. Commas group digits only
   in a whole-answer number: ``2,3`` and ``(1,234)`` stay lists.
2. **Numbers** (``ttc.plugins.tasks.numbers``): exact rationals, so integers compare
   exactly; a decimal of 4+ significant digits also matches a value with no finite decimal
   expansion that it rounds or truncates (0.3333 ≡ 1/3).
3. **Symbolic, through math-verify** (when installed and ``symbolic``): math-verify parses
   LaTeX into SymPy and decides what is not a plain number on both sides, after a cheap
   numeric fingerprint has ruled out clearly different pairs (``x^2+1`` ≡
   ``1+x^2``, ``\\sqrt{4}`` ≡ 2, sets, intervals, equations). When one side is a plain
   number and the other a numeric expression, our number rules still apply (a plain side
   goes in as an exact SymPy rational, so math-verify's 6-decimal float rounding never
   merges integers or written decimals): ``1.4142`` ≡ ``\\sqrt{2}``, ``1000.0000001`` ≢
   ``\\sqrt{1000000}``.

Nothing here raises on odd input: an answer that cannot be read compares as a string.
"""

from __future__ import annotations

import cmath
import logging
import re
import zlib
from collections.abc import Hashable
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any

from pydantic import model_validator

from ttc.extras import check_option
from ttc.plugins.tasks.numbers import (
    MINUS_SIGNS,
    Number,
    approximates,
    numbers_equivalent,
    read_number,
)
from ttc.task_format import TaskFormatConfig

logger = logging.getLogger(__name__)

_DASHES_AND_SPACES = str.maketrans(
    {**{c: "-" for c in MINUS_SIGNS}, "\u00a0": " ", "\u2009": " ", "\u202f": " ", "~": " "}
)
_DELIMITERS = re.compile(r"\\(?:left|right|displaystyle|[bB]igg?[lr]?)(?![A-Za-z])")
_SPACING = re.compile(r"\\(?:[,;: ]|quad|qquad)")
_FRAC_VARIANT = re.compile(r"\\[dt]frac(?![A-Za-z])")
_TEXT = r"\\(?:text|textrm|textnormal|textbf|textit|mathrm|mathbf|mathit|mbox|operatorname)"
_TEXT_WRAPPERS = re.compile(_TEXT + r"\s*\{([^{}]*)\}")
_SQUARED = r"(?:\s*\^\s*\{?\s*[23]\s*\}?|[²³])?"
_TRAILING_TEXT_UNIT = re.compile(
    r"^(?P<value>.*?[\d}).])\s*" + _TEXT + r"\s*\{[^{}]*[A-Za-z][^{}]*\}" + _SQUARED + r"\s*\.?$"
)
_UNIT_WORDS = (
    r"units?|dollars?|cents?|degrees?|percent|cm|mm|km|kg|mg|ml|lbs?|pounds?|ounces?|oz|"
    r"meters?|metres?|inches|inch|feet|foot|ft|yards?|miles?|hours?|hrs?|minutes?|mins?|"
    r"seconds?|secs?|days?|weeks?|months?|years?|mph"
)
_UNITS = re.compile(
    r"(?<=[\d}).])(?:\s*(?:(?:sq\.?|square|cubic)\s*)?(?:" + _UNIT_WORDS + r")(?![A-Za-z])"
    r"|\s+(?-i:[mg])(?![A-Za-z]))" + _SQUARED + r"\s*\.?$"
    r"|\s*(?:\\?%|°|\^\s*\{?\s*\\circ\s*\}?|\\circ|\\degree)\s*\.?$",
    re.IGNORECASE,
)
_ASSIGNMENT = re.compile(r"^(?:[A-Za-z]|\\[A-Za-z]+)(?:_\{?\w+\}?)?\s*=\s*(?=[^=]+$)")
_SQRT_TOKEN = re.compile(r"\\sqrt\s*([0-9A-Za-z])")
_FRAC_SHORT = re.compile(r"\\frac\s*(\d)\s*(\d)")
_MIXED_FRAC = re.compile(r"^(-?)(\d+)\s*\\frac\s*\{\s*(\d+)\s*\}\s*\{\s*(\d+)\s*\}$")
_FRAC = re.compile(r"\\frac\s*\{([^{}]+)\}\s*\{([^{}]+)\}")
_PLAIN_QUOTIENT = re.compile(r"(-?)\(([^()]+)\)/\(([^()]+)\)")


class SymbolicConfig(TaskFormatConfig):
    """The parameter of the math-aware task formats (``boxed``, ``math``, ``answer_is``)."""

    symbolic: bool = True
    """After string and numeric comparison, try SymPy equivalence through math-verify
    (slower; off compares normal forms and numbers only). Needs the metrics extra."""

    @model_validator(mode="after")
    def _installed(self) -> SymbolicConfig:
        if self.symbolic:
            check_option("metrics", "symbolic equivalence (math-verify)", "set  symbolic: false")
        return self


@lru_cache(maxsize=8192)
def normalise(answer: str) -> str:
    """A canonical surface form (see the module rules); plain numbers in canonical spelling.

    The steps run until nothing changes (one step can expose work for an earlier one, as
    ``5 cm.`` does), so normalising a normal form changes nothing."""
    text = answer.strip()
    for _ in range(4):
        previous, text = text, _normalise_once(text)
        if text == previous:
            break
    return text


def _normalise_once(text: str) -> str:
    if "\\boxed" in text or "\\fbox" in text:
        text = last_boxed(text) or text
    text = text.translate(_DASHES_AND_SPACES).replace("\\$", "")
    text = text.replace("$", "").replace("€", "").replace("£", "").replace("¥", "")
    text = _DELIMITERS.sub("", text).replace("\\!", "")
    text = _SPACING.sub(" ", text).replace("{,}", ",")
    text = _FRAC_VARIANT.sub(r"\\frac", text)
    text = _strip_units(text)
    text = _strip_units(_TEXT_WRAPPERS.sub(r"\1", text))  # and \text{5 cm}
    text = _ASSIGNMENT.sub("", text).strip().rstrip(".").strip()
    text = _SQRT_TOKEN.sub(r"\\sqrt{\1}", text)
    text = _FRAC_SHORT.sub(r"\\frac{\1}{\2}", text)
    text = _MIXED_FRAC.sub(_mixed_fraction, text)
    for _ in range(3):  # nested fractions, innermost first
        text = _FRAC.sub(r"(\1)/(\2)", text)
    number = read_number(text)
    if number is None:
        text = re.sub(r"\s+", "", text)
        quotient = _PLAIN_QUOTIENT.fullmatch(text)
        text = _plain_quotient(quotient) if quotient else text
        number = read_number(text)
    return number.text if number is not None else text


def _strip_units(text: str) -> str:
    previous = None
    while previous != text:  # "5 \text{ cm}^2", then "12 square units", then "90^\circ"
        previous = text
        text = _TRAILING_TEXT_UNIT.sub(r"\g<value>", text).strip()
        text = _UNITS.sub("", text).strip()
    return text


def _mixed_fraction(match: re.Match[str]) -> str:
    sign, whole, num, den = match.groups()
    if int(den) == 0 or int(num) >= int(den):
        return match.group(0)  # not a mixed number: leave it to math-verify
    return f"{sign}{int(whole) * int(den) + int(num)}/{den}"


def _plain_quotient(match: re.Match[str]) -> str:
    """``-(3)/(4)`` from ``-\\frac{3}{4}`` to ``-3/4`` when both parts are plain numbers."""
    sign, num, den = match.groups()
    top, bottom = read_number(num), read_number(den)
    if top is None or bottom is None or bottom.value == 0:
        return match.group(0)
    value = top.value / bottom.value * (-1 if sign else 1)
    return str(value)  # Fraction spells itself "p/q", or "p" for an integer


_BOX = re.compile(r"\\(?:boxed|fbox)\s*\{")


def last_boxed(text: str) -> str | None:
    """The content of the last ``\\boxed{...}`` (or ``\\fbox{...}``), braces balanced."""
    starts = list(_BOX.finditer(text))
    if not starts:
        return None
    depth, i = 0, starts[-1].end()
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            if depth == 0:
                return text[i:j].strip()
            depth -= 1
    return None


def math_key(answer: str) -> Hashable:
    """Equal keys mean equivalent answers: the exact value of a plain number, else the
    case-folded normal form. Cheap: regular expressions and ``Fraction`` only."""
    text = normalise(answer)
    number = read_number(text)
    return number.value if number is not None else text.casefold()


def math_equivalent(a: str, b: str, *, symbolic: bool = True) -> bool:
    """Normal form, then number rules, then math-verify (module rules). Never raises."""
    try:
        na, nb = normalise(a), normalise(b)
        if na.casefold() == nb.casefold():
            return True
        xa, xb = read_number(na), read_number(nb)
        if xa is not None and xb is not None:
            return numbers_equivalent(xa, xb)
        if not symbolic:
            return False
        return _symbolic_equal(a, b) or _symbolic_equal(b, a)
    except Exception:  # an odd answer is "not equivalent", never a crash
        logger.debug("equivalence check failed for %r, %r", a, b, exc_info=True)
        return False


@lru_cache(maxsize=16384)
def _symbolic_equal(gold: str, other: str) -> bool:
    """math-verify's ``verify(gold, other)``, with our number rules where one side is plain."""
    try:
        from math_verify import verify
    except ImportError:
        return False
    first, second = _reading(gold), _reading(other)
    if not first.parsed or not second.parsed:
        return False
    for plain, expression in ((first.plain, second.parsed[0]), (second.plain, first.parsed[0])):
        if plain is not None:
            verdict = _number_against_expression(plain, expression)
            if verdict is not None:
                return verdict
    if _clearly_different(first.fingerprint, second.fingerprint):
        return False
    # math-verify's timeouts use SIGALRM, which only works on the main thread; components run
    # on the background event loop, so they are off and the caller's budget applies.
    return bool(verify(list(first.parsed), list(second.parsed), timeout_seconds=None))


@dataclass(frozen=True)
class _Reading:
    """One answer as the symbolic step sees it (computed once per answer, not per pair)."""

    plain: Number | None
    parsed: tuple[Any, ...]
    fingerprint: complex | None


@lru_cache(maxsize=4096)
def _reading(answer: str) -> _Reading:
    plain = read_number(normalise(answer))
    parsed = _exact(plain) if plain is not None else _parse(_latex(answer))
    return _Reading(plain, parsed, _fingerprint(parsed[0]) if parsed else None)


def _fingerprint(expression: Any) -> complex | None:
    """The expression's value with each free symbol set to a fixed irrational-looking value
    (the same per name), or None when it is no expression or does not evaluate.

    Equivalent expressions have equal fingerprints, so a pair whose fingerprints clearly
    differ skips math-verify's ``verify`` (about 10 ms a pair): what keeps grouping hundreds
    of distinct symbolic answers fast.
    """
    import sympy

    if not isinstance(expression, sympy.Expr) or isinstance(expression, sympy.Symbol):
        # sets, intervals, equations, matrices; and a lone symbol, which math-verify also
        # matches with the product of its letters (\text{yes} and y·e·s): it decides
        return None
    try:
        values = {
            symbol: sympy.Float(1 + zlib.crc32(symbol.name.encode()) % 9973 / 7919, 30)
            for symbol in expression.free_symbols
            if isinstance(symbol, sympy.Symbol)
        }
        value = complex(expression.subs(values).evalf(30))
    except Exception:  # undefined functions, zoo, nan: no fingerprint
        return None
    return value if cmath.isfinite(value) else None


def _clearly_different(a: complex | None, b: complex | None) -> bool:
    """Far apart beyond any rounding math-verify allows (it rounds floats to 6 decimals)."""
    if a is None or b is None:
        return False
    return abs(a - b) > 1e-5 * max(1.0, abs(a), abs(b))


def _number_against_expression(number: Number, expression: Any) -> bool | None:
    """Our number rules for a plain number against a numeric SymPy expression: a verdict,
    or None to let math-verify decide (symbolic equality of exact values)."""
    import sympy

    if not isinstance(expression, sympy.Expr) or not expression.is_number:
        return None
    if expression.is_Rational:
        exact = Number(Fraction(int(expression.p), int(expression.q)), str(expression))
        return numbers_equivalent(number, exact)
    if number.ulp is None:
        return None  # 2 against \sqrt{4}-like expressions: exact, symbolic
    digits = len(str(abs((number.value / number.ulp).numerator)))
    value = expression.evalf(digits + 20)
    if not value.is_real or not value.is_finite:
        return False
    approximation = Fraction(str(value))
    scaled = approximation / number.ulp
    if abs(scaled - round(scaled)) < Fraction(1, 10**12):
        return None  # on the decimal's own grid: equal or not, exactly, symbolically
    return approximates(number, approximation, terminating=False)


def _exact(number: Number) -> tuple[Any, ...]:
    import sympy

    return (sympy.Rational(number.value.numerator, number.value.denominator),)


def _latex(answer: str) -> str:
    """The answer as math-verify reads it: LaTeX between ``$``, dashes as ``-``."""
    text = answer.strip().translate(_DASHES_AND_SPACES).replace("\\$", "")
    if "\\boxed" in text:
        return text if "$" in text else f"${text}$"
    return "$" + text.replace("$", "").rstrip(".").strip() + "$"


@lru_cache(maxsize=4096)
def _parse(text: str) -> tuple[Any, ...]:
    try:
        from math_verify import parse
    except ImportError:
        return ()
    try:
        return tuple(parse(text, parsing_timeout=None))
    except Exception:
        return ()


class _QuietTimeoutWarning(logging.Filter):
    """math-verify warns on every call made without its (main-thread-only) timeout."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Timeout is disabled" not in record.getMessage()


for _name in ("math_verify", "math_verify.parser", "math_verify.grader"):
    logging.getLogger(_name).addFilter(_QuietTimeoutWarning())
