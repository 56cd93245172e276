"""Errors of the run store: each says what is wrong with which store and how to fix it."""

from __future__ import annotations

from ttc.errors import TTCError, UsageError


class StoreError(TTCError):
    """The run store cannot be opened or written (corrupt, foreign, newer, read-only)."""

    exit_code = 3


class RunNotFound(UsageError):
    """No recorded run has this id (or id prefix)."""


class ReplayMiss(TTCError):
    """A strict replay needed model calls that are not in the recording."""

    def __init__(self, run_id: str, missing: list[str]) -> None:
        self.run_id = run_id
        self.missing = missing
        listed = "\n  ".join(missing)
        super().__init__(
            f"strict replay of {run_id}: {len(missing)} model call(s) are not in the "
            f"recording and would be needed:\n  {listed}\n"
            "  fix: drop --strict to make these calls, or replay with a recipe that shares "
            "them with the recording"
        )
