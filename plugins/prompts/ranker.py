"""Ranker prompts (docs/methods.md C2): instructions and question first, the numbered responses
last."""

from __future__ import annotations

from collections.abc import Sequence

LIST_INSTRUCTIONS = (
    "I will give you {n} responses, each marked with an identifier [1] to [{n}]. Rank them "
    "from best to worst by how well they answer the query. List every identifier once, in "
    "the format [4] > [2] > [1] > [3].\n\nQuery: {question}\n\n"
)
PAIR_INSTRUCTIONS = (
    "Which of the two responses answers the query better? Reply with one letter, A or B."
    "\n\nQuery: {question}\n\n"
)


def list_prompt(question: str, responses: Sequence[str],
                critiques: Sequence[str | None] | None = None) -> str:
    parts = []
    for i, text in enumerate(responses, 1):
        part = f"[{i}] {text}"
        if critiques is not None and critiques[i - 1]:
            part += f"\nCritique of [{i}]: {critiques[i - 1]}"
        parts.append(part)
    head = LIST_INSTRUCTIONS.format(n=len(responses), question=question)
    return head + "\n\n".join(parts) + "\n\nRanking:"


def pair_prompt(question: str, a: str, b: str, critique_a: str | None = None,
                critique_b: str | None = None) -> str:
    text = PAIR_INSTRUCTIONS.format(question=question) + f"Response A: {a}\n"
    if critique_a:
        text += f"Critique of A: {critique_a}\n"
    text += f"\nResponse B: {b}\n"
    if critique_b:
        text += f"Critique of B: {critique_b}\n"
    return text + "\nBetter response:"


def list_regex(n: int) -> str:
    """A ranking line of exactly ``n`` bracketed identifiers in 1..n (repair fixes repeats)."""
    ident = r"\[(" + "|".join(str(i) for i in range(n, 0, -1)) + r")\]"
    return ident + (r"( > " + ident + "){" + str(n - 1) + "}" if n > 1 else "")
