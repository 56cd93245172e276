"""The generated recipe reference in docs/ matches the installed plugins' schemas."""

from pathlib import Path

from ttc import PluginHost
from ttc.recipe.reference import recipe_reference

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "recipe-reference.md"


def test_recipe_reference_is_up_to_date():
    expected = recipe_reference(PluginHost(load_entry_points=False).registry)
    assert REFERENCE.read_text(encoding="utf-8") == expected, (
        "docs/recipe-reference.md is stale: run `make docs`"
    )


def test_every_component_parameter_is_documented():
    """Config docstrings are the docs and the UI's help text: none may be missing."""
    registry = PluginHost(load_entry_points=False).registry
    undocumented = [
        f"{name}.{field}"
        for name, entry in registry.components.items()
        for field, info in entry.obj.Config.model_fields.items()
        if not (info.description or "").strip()
    ]
    assert undocumented == []
