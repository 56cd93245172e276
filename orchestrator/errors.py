"""Error types that carry where the problem is and how to fix it."""

from __future__ import annotations

from dataclasses import dataclass


class TTCError(Exception):
    """Base of errors shown to users as one clear message (the CLI prints ``str(error)``)."""

    exit_code = 1


class UsageError(TTCError):
    """Bad input from the user (a recipe, an input file, an option)."""

    exit_code = 2


@dataclass(frozen=True, slots=True)
class RecipeIssue:
    message: str
    fix: str
    source: str = "<recipe>"
    line: int | None = None
    column: int | None = None
    path: str = ""
    """Where in the recipe, e.g. ``stages[1][0].n``."""

    def __str__(self) -> str:
        where = self.source
        if self.line is not None:
            where += f":{self.line}:{self.column or 1}"
        at = f" ({self.path})" if self.path else ""
        fix = f"\n    fix: {self.fix}" if self.fix else ""
        return f"{where}: {self.message}{at}{fix}"


class RecipeError(UsageError):
    """One or more problems in a recipe, all reported at once."""

    def __init__(self, issues: list[RecipeIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(issue) for issue in issues))


class BudgetExhausted(TTCError):
    """The run's token or call budget is spent; the executor stops cleanly."""


class ModelCallFailed(TTCError):
    """A model call failed after its retries; the failure is recorded before this is raised."""


class RecordingFailed(TTCError):
    """A run asked to be recorded and its recording failed. Raised by a lifecycle observer
    that must stop the run: a run is never reported "succeeded" with nothing stored."""
