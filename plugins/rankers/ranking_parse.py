"""Listwise ranking replies like ``[4] > [2] > [1] > [3]``, repaired into a permutation."""

from __future__ import annotations

import re

_BRACKETED = re.compile(r"\[\s*(\d+)\s*(?:[-–]\s*(\d+)\s*)?\]")
_BARE = re.compile(r"\b(\d+)\b")


def parse_ranking(reply: str, n: int) -> list[int] | None:
    """A permutation of 1..n, best first, from the model's ranking line.

    Ranges ``[3-5]`` expand in order; out-of-range numbers are ignored; a repeated index
    counts at its first place; indices the model left out follow in their original order.
    Bracketed identifiers win over bare numbers. None when the reply names no index at all.
    """
    found: list[int] = []
    matches = list(_BRACKETED.finditer(reply))
    if matches:
        for m in matches:
            start = int(m.group(1))
            end = int(m.group(2)) if m.group(2) else start
            step = 1 if end >= start else -1
            found.extend(range(start, end + step, step))
    else:
        found = [int(x) for x in _BARE.findall(reply)]
    order: list[int] = []
    for index in found:
        if 1 <= index <= n and index not in order:
            order.append(index)
    if not order:
        return None
    return order + [i for i in range(1, n + 1) if i not in order]


def parse_choice(reply: str) -> str | None:
    """``A`` or ``B`` from a pairwise verdict: the first standalone letter A or B."""
    m = re.search(r"\b([AB])\b", reply.strip())
    return m.group(1) if m else None
