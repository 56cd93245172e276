"""Walking a candidate's lineage: the revisions it came from, oldest first."""

from __future__ import annotations

from collections.abc import Mapping

from ttc.candidate import Candidate


def ancestors(candidate: Candidate, known: Mapping[str, Candidate],
              limit: int = 64) -> list[Candidate]:
    """The chain of first parents of ``candidate`` (oldest first), as far as the run knows."""
    chain: list[Candidate] = []
    current = candidate
    while current.parents and len(chain) < limit:
        parent = known.get(current.parents[0])
        if parent is None:
            break
        chain.append(parent)
        current = parent
    return chain[::-1]
