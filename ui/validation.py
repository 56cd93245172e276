"""Recipe validation for the UI: the very issues ``ttc validate`` prints, from the same
compiler (``ttc.Pipeline.from_text``), so the builder and the command line never disagree."""

from __future__ import annotations

from ttc import Pipeline, RecipeError
from ttc.errors import RecipeIssue


def recipe_issues(text: str, source: str) -> list[RecipeIssue]:
    """Every problem of a recipe text (empty when it is valid). Nothing is loaded or run."""
    try:
        Pipeline.from_text(text, source, store=False)
    except RecipeError as exc:
        return list(exc.issues)
    return []


def validate_output(issues: list[RecipeIssue], source: str) -> str:
    """What ``ttc validate SOURCE`` prints for these issues (stdout and stderr together)."""
    if not issues:
        return f"{source}: ok"
    lines = [str(issue) for issue in issues]
    lines.append(f"{len(issues)} problem(s) found")
    return "\n".join(lines)
