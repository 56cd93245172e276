"""Forms come from a Config's JSON schema: types, bounds, defaults, choices and docs, for
built-in and plugin components alike."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ttc import ComponentConfig, default_host
from ttc.ui.forms import REQUIRED, field_specs


class PluginConfig(ComponentConfig):
    """A third-party component's parameters."""

    rounds: int = Field(default=3, ge=1, le=9)
    """How many rounds."""
    weight: float = Field(default=0.5, gt=0, lt=1)
    style: Literal["terse", "verbose"] = "terse"
    label: str | None = None
    names: list[str] = Field(default_factory=lambda: ["a"])
    target: str


def test_schema_types_bounds_defaults_choices_and_docs_become_fields() -> None:
    specs = {s.name: s for s in field_specs(PluginConfig)}
    assert specs["rounds"].kind == "int"
    assert (specs["rounds"].minimum, specs["rounds"].maximum, specs["rounds"].default) == (1, 9, 3)
    assert specs["rounds"].doc == "How many rounds."
    assert specs["weight"].kind == "float" and specs["weight"].bounds == "0 < x < 1"
    assert specs["style"].kind == "choice" and specs["style"].choices == ("terse", "verbose")
    assert specs["label"].kind == "text" and specs["label"].nullable
    assert specs["names"].kind == "yaml" and specs["names"].default == ["a"]
    assert specs["target"].required and specs["target"].default is REQUIRED
    assert list(specs) == ["rounds", "weight", "style", "label", "names", "target"]


def test_every_registered_component_and_runtime_gets_a_form() -> None:
    registry = default_host().registry
    for entry in [*registry.components.values(), *registry.runtimes.values()]:
        model = getattr(entry.obj, "Config", None) or entry.obj.Options
        specs = field_specs(model)
        assert [s.name for s in specs] == list(model.model_fields)
    sample = {s.name: s for s in field_specs(registry.component("sample").Config)}
    assert sample["temperature"].kind == "float" and sample["temperature"].maximum is not None
    local = {s.name: s for s in field_specs(registry.runtime("local").Options)}
    assert local["dtype"].choices == ("float32", "bfloat16")
    openai = {s.name: s for s in field_specs(registry.runtime("openai").Options)}
    assert openai["api_key"].secret
