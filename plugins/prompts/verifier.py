"""Verifier prompts: Archon's two calls (V2) and the one-token Yes/No question (V1)."""

from __future__ import annotations

REASON_INSTRUCTIONS = (
    "Think step by step about whether the response correctly and completely answers the "
    "query. Explain your reasoning briefly.\n\nQuery: {question}\n\nResponse: "
)
VERDICT_INSTRUCTIONS = (
    "Given the query, the response and the reasoning about it, decide whether the response "
    "is correct. Reply with [Correct] or [Incorrect] only.\n\nQuery: {question}\n\n"
    "Response: "
)
VERDICT_REGEX = r"\[(Correct|Incorrect)\]"
YES_NO_INSTRUCTIONS = "Question: {question}\n\nProposed answer: "
YES_NO_QUESTION = "\n\nIs the proposed answer correct? Answer Yes or No."


def reasoning_prompt(question: str, response: str) -> str:
    return REASON_INSTRUCTIONS.format(question=question) + response


def verdict_prompt(question: str, response: str, reasoning: str,
                   critique: str | None = None) -> str:
    text = VERDICT_INSTRUCTIONS.format(question=question) + response
    if critique:
        text += f"\n\nCritique: {critique}"
    return text + f"\n\nReasoning: {reasoning}\n\nVerdict:"


def yes_no_prompt(question: str, response: str) -> str:
    return YES_NO_INSTRUCTIONS.format(question=question) + response + YES_NO_QUESTION
