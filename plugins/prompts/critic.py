"""Critic prompts (docs/methods.md C1): the question and instructions first, candidates last."""

from __future__ import annotations

from collections.abc import Sequence

LIST_INSTRUCTIONS = (
    "You are a careful reviewer. Below are {n} responses to the query, each marked with an "
    "identifier in brackets. For every response, write its strengths and weaknesses.\n"
    "Use exactly this format for each response, in order:\n"
    "[1]\nStrengths: ...\nWeaknesses: ...\n\n"
    "Query: {question}\n\nResponses:\n"
)
ONE_INSTRUCTIONS = (
    "You are a careful reviewer. Write the strengths and weaknesses of the response to the "
    "query, in exactly this format:\nStrengths: ...\nWeaknesses: ...\n\n"
    "Query: {question}\n\nResponse:\n"
)


def list_prompt(question: str, responses: Sequence[str]) -> str:
    listing = "\n\n".join(f"[{i}] {text}" for i, text in enumerate(responses, 1))
    return LIST_INSTRUCTIONS.format(n=len(responses), question=question) + listing


def one_prompt(question: str, response: str) -> str:
    return ONE_INSTRUCTIONS.format(question=question) + response


def list_schema(n: int) -> dict:
    """JSON schema of a constrained list critique: exactly ``n`` entries, in order."""
    item = {"type": "object",
            "properties": {"strengths": {"type": "string"}, "weaknesses": {"type": "string"}},
            "required": ["strengths", "weaknesses"]}
    return {"type": "object",
            "properties": {"critiques": {"type": "array", "items": item,
                                         "minItems": n, "maxItems": n}},
            "required": ["critiques"]}
