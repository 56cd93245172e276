"""Refiner prompts (docs/methods.md §6): feedback, revision, IAD and sequential refinement."""

from __future__ import annotations

from collections.abc import Sequence

DONE_MARK = "DONE"
FEEDBACK = (
    "Review the answer to the question. If it is correct and complete, reply with the single "
    "word " + DONE_MARK + ". Otherwise give short, specific feedback on what to fix.\n\n"
    "Question: {question}\n\nAnswer: "
)
REVISE = (
    "Improve the answer to the question using the feedback. Reply with the improved answer "
    "only.\n\nQuestion: {question}\n\nAnswer: "
)
IAD = (
    "Earlier attempts at the question were scored by a verifier (0 = wrong, 1 = correct). "
    "Write a better answer than all of them.\n\nQuestion: {question}\n\n"
)
SEQUENTIAL = (
    "Check the earlier attempts at the question for mistakes, then write an improved answer."
    "\n\nQuestion: {question}\n\n"
)


def feedback_prompt(question: str, answer: str) -> str:
    return FEEDBACK.format(question=question) + answer


def revise_prompt(question: str, answer: str, feedback: str,
                  history: Sequence[tuple[str, str]] = ()) -> str:
    """``history``: earlier (answer, feedback) pairs, oldest first (Self-Refine's history)."""
    earlier = "".join(f"Earlier answer: {a}\nFeedback on it: {f}\n\n" for a, f in history)
    return (REVISE.format(question=question).removesuffix("Answer: ") + earlier
            + f"Answer: {answer}\n\nFeedback: {feedback}\n\nImproved answer:")


def iad_prompt(question: str, attempts: Sequence[tuple[str, float, str | None]]) -> str:
    parts = []
    for label, (text, score, critique) in zip(("Best", "Worst"), attempts, strict=False):
        part = f"{label} attempt (score {score:.2f}): {text}"
        if critique:
            part += f"\nCritique: {critique}"
        parts.append(part)
    return IAD.format(question=question) + "\n\n".join(parts) + "\n\nBetter answer:"


def sequential_prompt(question: str, earlier: Sequence[str]) -> str:
    listing = "\n\n".join(f"Attempt {i}: {text}" for i, text in enumerate(earlier, 1))
    return SEQUENTIAL.format(question=question) + listing + "\n\nImproved answer:"
