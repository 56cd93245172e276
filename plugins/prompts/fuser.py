"""Fuser prompt (docs/methods.md C3, mixture-of-agents): instructions and question first, the
responses (and their critiques) last."""

from __future__ import annotations

from collections.abc import Sequence

INSTRUCTIONS = (
    "You have been given several responses to the query below, from various models. Some of "
    "them may be wrong or biased. Critically evaluate them and write one single, accurate, "
    "complete response that combines their strengths. Do not just copy one of them, and do "
    "not mention the other responses.\n\nQuery: {question}\n\nResponses:\n"
)


def prompt(question: str, responses: Sequence[str],
           critiques: Sequence[str | None] | None = None) -> str:
    parts = []
    for i, text in enumerate(responses, 1):
        part = f"{i}. {text}"
        if critiques is not None and critiques[i - 1]:
            part += f"\nCritique: {critiques[i - 1]}"
        parts.append(part)
    return INSTRUCTIONS.format(question=question) + "\n\n".join(parts)
