"""Math answer normalisation and equivalence (METHODS V6).

Equivalence is tried cheapest first: normalised string, then exact rational / numeric with a
relative tolerance of 1e-6, then symbolic through ``math-verify`` (SymPy) when it is
installed. Nothing here raises on odd input: an answer that cannot be read compares as a
string.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Hashable
from fractions import Fraction
from functools import lru_cache
from typing import Any

logger = logging.getLogger(__name__)

REL_TOL = 1e-6

_TEXT_WRAPPERS = re.compile(r"\\(?:text|textbf|mathrm|mathbf|mbox|operatorname)\s*\{([^{}]*)\}")
_FRAC = re.compile(r"\\[dt]?frac\s*\{([^{}]+)\}\s*\{([^{}]+)\}")
_FRAC_SHORT = re.compile(r"\\[dt]?frac(\d)(\d)")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?:\D|$))")
_UNITS = re.compile(
    r"\s*(?:units?|dollars?|cents?|degrees?|cm|m|km|kg|g|mg|meters?|inches|inch|feet|foot|"
    r"ft|hours?|minutes?|seconds?|mph|sq\.?\s*units?|%|\\%|\^\\circ|\^\{\\circ\})\s*$",
    re.IGNORECASE,
)


def normalise(answer: str) -> str:
    """A canonical surface form: no ``$``, ``\\left``/``\\right``, spacing commands, text
    wrappers, thousands separators or trailing units; ``\\frac{a}{b}`` becomes ``a/b``."""
    text = answer.strip()
    text = text.replace("$", "").replace("\\!", "").replace("\\,", "").replace("\\;", "")
    text = text.replace("\\left", "").replace("\\right", "").replace("\\displaystyle", "")
    text = _TEXT_WRAPPERS.sub(r"\1", text)
    text = _FRAC_SHORT.sub(r"\1/\2", text)
    for _ in range(3):  # nested fractions, innermost first
        text = _FRAC.sub(r"(\1)/(\2)", text)
    text = _THOUSANDS.sub("", text)
    previous = None
    while previous != text:
        previous = text
        text = _UNITS.sub("", text).strip()
    text = text.rstrip(".").strip()
    text = re.sub(r"\s+", "", text)
    text = re.sub(r"^\((-?[\d.]+)\)/\((-?[\d.]+)\)$", r"\1/\2", text)
    return text


def as_number(text: str) -> Fraction | float | None:
    """The exact rational (``1/2``, ``0.5``, ``-3``) or float value of a normalised answer."""
    cleaned = text.replace("(", "").replace(")", "") if re.fullmatch(r"[()\d./+-]+", text) else text
    try:
        if "/" in cleaned:
            num, den = cleaned.split("/", 1)
            return Fraction(num) / Fraction(den)
        return Fraction(cleaned)
    except (ValueError, ZeroDivisionError):
        pass
    try:
        value = float(cleaned)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def math_key(answer: str) -> Hashable:
    """Equal keys mean equivalent answers: the exact rational value, else the normal form."""
    text = normalise(answer)
    value = as_number(text)
    if isinstance(value, Fraction):
        return value
    return text.casefold()


def numbers_close(a: Fraction | float, b: Fraction | float) -> bool:
    """Symmetric relative tolerance (1e-6 of the larger magnitude)."""
    fa, fb = float(a), float(b)
    return abs(fa - fb) <= REL_TOL * max(abs(fa), abs(fb)) or fa == fb


def math_equivalent(a: str, b: str, *, symbolic: bool = True) -> bool:
    """String, then numeric (rel. tol. 1e-6), then symbolic equivalence. Never raises."""
    try:
        na, nb = normalise(a), normalise(b)
        if na == nb or na.casefold() == nb.casefold():
            return True
        va, vb = as_number(na), as_number(nb)
        if va is not None and vb is not None:
            return numbers_close(va, vb)
        if not symbolic:
            return False
        return _symbolic_equal(a, b)
    except Exception:  # an odd answer is "not equivalent", never a crash
        logger.debug("equivalence check failed for %r, %r", a, b, exc_info=True)
        return False


def _symbolic_equal(a: str, b: str) -> bool:
    parsed_a, parsed_b = _parse(a), _parse(b)
    if not parsed_a or not parsed_b:
        return False
    try:
        from math_verify import verify
    except ImportError:
        return False
    # math-verify's timeouts use SIGALRM, which only works on the main thread; components run
    # on the background event loop, so they are off and the caller's budget applies.
    result = bool(verify(list(parsed_a), list(parsed_b), timeout_seconds=None))
    return result or bool(verify(list(parsed_b), list(parsed_a), timeout_seconds=None))


@lru_cache(maxsize=4096)
def _parse(answer: str) -> tuple[Any, ...]:
    try:
        from math_verify import parse
    except ImportError:
        return ()
    text = answer if "$" in answer or "\\boxed" in answer else f"${answer}$"
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
