"""The recipes that ship with ttc (``recipes/`` of the source checkout), for the builder's
"start from" list and the first screen's demo."""

from __future__ import annotations

from pathlib import Path

DEMO_RECIPE = "best-of-n-majority.yaml"
DEMO_QUESTION = ("Tom has 3 apples and buys 4 more. How many apples does he have? "
                 "Answer with a number.")


def recipes_folder() -> Path | None:
    """``recipes/`` next to the installed source folders, or None (a wheel has none)."""
    folder = Path(__file__).resolve().parent.parent / "recipes"
    return folder if folder.is_dir() else None


def shipped_recipes() -> dict[str, Path]:
    folder = recipes_folder()
    if folder is None:
        return {}
    return {path.name: path for path in sorted(folder.glob("*.yaml"))}


def demo_recipe() -> Path | None:
    return shipped_recipes().get(DEMO_RECIPE)
