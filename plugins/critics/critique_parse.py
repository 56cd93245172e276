"""Tolerant parsing of critic replies: bracketed sections, or the constrained JSON form."""

from __future__ import annotations

import json
import re

_MARK = re.compile(r"^\s*(?:\*\*)?\[(\d+)\](?:\*\*)?[:.]?\s*", re.MULTILINE)
_STRENGTHS = re.compile(r"strengths?\s*:", re.IGNORECASE)
_WEAKNESSES = re.compile(r"weakness(?:es)?\s*:", re.IGNORECASE)


def parse_sections(reply: str, n: int) -> dict[int, str]:
    """Critiques by 1-based index from ``[i]`` sections; out-of-range and repeated indices
    are dropped (the first section of an index wins); empty sections are dropped."""
    marks = list(_MARK.finditer(reply))
    out: dict[int, str] = {}
    for k, mark in enumerate(marks):
        index = int(mark.group(1))
        end = marks[k + 1].start() if k + 1 < len(marks) else len(reply)
        body = reply[mark.end():end].strip()
        if 1 <= index <= n and index not in out and body:
            out[index] = body
    return out


def parse_one(reply: str) -> str | None:
    """A single critique: it must name strengths or weaknesses to count."""
    text = reply.strip()
    if text and (_STRENGTHS.search(text) or _WEAKNESSES.search(text)):
        return text
    return None


def parse_json(reply: str, n: int) -> dict[int, str] | None:
    """The constrained form ``{"critiques": [{"strengths", "weaknesses"}, ...]}``."""
    try:
        data = json.loads(reply)
        items = data["critiques"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(items, list) or len(items) != n:
        return None
    return {i: f"Strengths: {item.get('strengths', '')}\nWeaknesses: {item.get('weaknesses', '')}"
            for i, item in enumerate(items, 1) if isinstance(item, dict)}
