"""Unit-test prompts (docs/methods.md V5): natural-language tests, and an LLM judging one test."""

from __future__ import annotations

GENERATE = (
    "Write {cap} unit tests for responses to the query below. Each unit test is one short "
    "sentence stating something a correct response must satisfy. Write one test per line, "
    "numbered 1., 2., ...\n\nQuery: {question}\n\nUnit tests:\n"
)
EVALUATE = (
    "Decide whether the response passes the unit test. Reply with [Passed] or [Failed] "
    "only.\n\nQuery: {question}\n\nResponse: "
)
VERDICT_REGEX = r"\[(Passed|Failed)\]"


def generate_prompt(question: str, cap: int) -> str:
    return GENERATE.format(cap=cap, question=question)


def evaluate_prompt(question: str, response: str, test: str) -> str:
    return EVALUATE.format(question=question) + response + f"\n\nUnit test: {test}\n\nResult:"
