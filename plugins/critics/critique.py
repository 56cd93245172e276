"""Where critiques live: on the candidate they are about (``Candidate.feedback``), under keys
starting with ``critique``. A fuser's new candidates carry none, so a critique can never be
paired with a candidate it was not written for (Archon's stale-critique bug)."""

from __future__ import annotations

from ttc.candidate import Candidate

CRITIQUE_KEY = "critique"


def critique_key(index: int) -> str:
    """The feedback key of the critic at position ``index`` of its stage (two critics in one
    stage keep both critiques)."""
    return CRITIQUE_KEY if index == 0 else f"{CRITIQUE_KEY}#{index}"


def critique_of(candidate: Candidate) -> str | None:
    """Every critique written about this candidate, joined; None when it has none."""
    texts = [text for key, text in sorted(candidate.feedback.items())
             if key == CRITIQUE_KEY or key.startswith(CRITIQUE_KEY + "#")]
    return "\n".join(texts) if texts else None
