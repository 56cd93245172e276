"""Reading and checking the arithmetic a text states: every ``a op b … = c`` evaluated
exactly (fractions), with nothing but numbers, + − × ÷ and brackets ever evaluated.

A verifier that does not ask the model to judge itself: on a small model, whose yes/no and
self-evaluation scores anti-correlate with correctness, a wrong "7 × 8 = 54" is still plainly
wrong.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from fractions import Fraction

NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
OPERATOR = r"[-+*/×÷·−]|\bx\b"
CLAIM = re.compile(
    rf"(?P<lhs>[(\[]*\s*-?\s*(?:{NUMBER})\s*[)\]]*(?:\s*(?:{OPERATOR})\s*[(\[]*\s*-?\s*"
    rf"(?:{NUMBER})\s*[)\]]*)+)\s*=\s*(?P<rhs>-?\s*(?:{NUMBER}))"
)
MAX_EXPRESSION = 200
"""Longer left-hand sides are not read (no model writes them; a hostile text might)."""
MAX_MAGNITUDE = 10**15


@dataclass(frozen=True, slots=True)
class Claim:
    expression: str
    stated: str
    correct: bool
    value: str
    """What the expression is, as a fraction or integer."""


def claims(text: str) -> list[Claim]:
    """Every arithmetic equation in ``text`` whose left side has an operator, checked."""
    out = []
    for match in CLAIM.finditer(text):
        lhs, rhs = match.group("lhs").strip(), match.group("rhs")
        if len(lhs) > MAX_EXPRESSION:
            continue
        value = evaluate(lhs)
        stated = _number(rhs)
        if value is None or stated is None:
            continue
        out.append(Claim(lhs, rhs.strip(), _agrees(value, stated, rhs), str(value)))
    return out


def evaluate(expression: str) -> Fraction | None:
    """The exact value of an arithmetic expression, or None if it is not one (or divides
    by zero, or grows past 10^15)."""
    source = (expression.replace("×", "*").replace("·", "*").replace("÷", "/")
              .replace("−", "-").replace("[", "(").replace("]", ")"))
    source = re.sub(r"\bx\b", "*", source)
    source = re.sub(r"(?<=\d),(?=\d{3})", "", source)
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError:
        return None
    try:
        return _value(tree.body)
    except (ZeroDivisionError, OverflowError, ValueError):
        return None


def _value(node: ast.AST) -> Fraction:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return Fraction(str(node.value))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _value(node.operand)
        return -inner if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult,
                                                            ast.Div)):
        left, right = _value(node.left), _value(node.right)
        if isinstance(node.op, ast.Add):
            result = left + right
        elif isinstance(node.op, ast.Sub):
            result = left - right
        elif isinstance(node.op, ast.Mult):
            result = left * right
        else:
            result = left / right
        if abs(result) > MAX_MAGNITUDE:
            raise OverflowError("too large")
        return result
    raise ValueError("not arithmetic")


def _number(text: str) -> Fraction | None:
    cleaned = re.sub(r"\s+", "", text).replace(",", "")
    try:
        return Fraction(cleaned)
    except ValueError:
        return None


def _agrees(value: Fraction, stated: Fraction, written: str) -> bool:
    """Equal, or equal after rounding to the decimals the text wrote (10 / 3 = 3.33)."""
    if value == stated:
        return True
    decimals = len(written.split(".", 1)[1]) if "." in written else None
    if decimals is None:
        return False
    return abs(value - stated) <= Fraction(1, 2 * 10**decimals)
