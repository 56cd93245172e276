"""Forms generated from a pydantic model's JSON schema: one widget per field, with the field's
type, bounds, default, choices and docstring (the same schema ``ttc reference`` documents).

A plugin's component, runtime or task format gets a form without any UI code. Values are
written into the recipe data only when they differ from what it holds (or from the default,
for a key it does not hold yet), so an untouched form never changes a recipe.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import yaml
from pydantic import BaseModel

FieldKind = Literal["bool", "int", "float", "text", "choice", "yaml"]

REQUIRED = object()
"""The default of a field that has none (the recipe must set it)."""


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One parameter, as a form shows it."""

    name: str
    kind: FieldKind
    default: Any
    nullable: bool = False
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    exclusive_maximum: float | None = None
    choices: tuple[Any, ...] = ()
    doc: str = ""
    secret: bool = False

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def bounds(self) -> str:
        """Bounds as people read them, e.g. ``0 < x ≤ 1``."""
        low = (f"{_num(self.minimum)} ≤ " if self.minimum is not None else
               f"{_num(self.exclusive_minimum)} < " if self.exclusive_minimum is not None else "")
        high = (f" ≤ {_num(self.maximum)}" if self.maximum is not None else
                f" < {_num(self.exclusive_maximum)}" if self.exclusive_maximum is not None
                else "")
        return f"{low}x{high}" if low or high else ""

    def help(self) -> str:
        parts = [self.doc]
        if self.bounds:
            parts.append(f"bounds: {self.bounds}")
        if not self.required:
            parts.append(f"default: {self.default!r}")
        return "\n\n".join(p for p in parts if p)


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def field_specs(model: type[BaseModel]) -> list[FieldSpec]:
    """The form fields of a pydantic model, in declaration order."""
    try:
        schema = model.model_json_schema()
    except Exception:  # a type JSON schema cannot express: edit every field as YAML
        schema = {"properties": {}}
    properties = schema.get("properties", {})
    definitions = schema.get("$defs", {})
    specs = []
    for name, field in model.model_fields.items():
        prop = properties.get(field.alias or name, {})
        default = REQUIRED if field.is_required() else field.get_default(
            call_default_factory=True)
        specs.append(_spec(name, _resolve(prop, definitions), definitions, default,
                           (field.description or "").strip()))
    return specs


def _resolve(prop: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    ref = prop.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return {**definitions.get(ref.split("/")[-1], {}), **{k: v for k, v in prop.items()
                                                              if k != "$ref"}}
    return prop


def _spec(name: str, prop: dict[str, Any], definitions: dict[str, Any], default: Any,
          doc: str) -> FieldSpec:
    nullable = False
    options = prop.get("anyOf")
    if isinstance(options, list):
        rest = [_resolve(o, definitions) for o in options if o.get("type") != "null"]
        nullable = len(rest) < len(options)
        prop = rest[0] if len(rest) == 1 else {"type": "yaml"}
    secret = prop.get("format") == "password" or bool(prop.get("writeOnly"))
    if "enum" in prop or "const" in prop:
        choices = tuple(prop.get("enum") or [prop["const"]])
        return FieldSpec(name, "choice", default, nullable, choices=choices, doc=doc)
    kinds: dict[str, FieldKind] = {"boolean": "bool", "integer": "int", "number": "float",
                                   "string": "text"}
    kind = kinds.get(prop.get("type", ""), "yaml")
    return FieldSpec(name, kind, default, nullable, doc=doc, secret=secret,
                     minimum=prop.get("minimum"), maximum=prop.get("maximum"),
                     exclusive_minimum=prop.get("exclusiveMinimum"),
                     exclusive_maximum=prop.get("exclusiveMaximum"))


# --- widgets -----------------------------------------------------------------------------


def render_form(model: type[BaseModel], values: dict[str, Any], key: str,
                skip: tuple[str, ...] = ()) -> None:
    """Widgets for every field of ``model``; edits go straight into ``values``."""
    for spec in field_specs(model):
        if spec.name in skip:
            continue
        render_field(spec, values, f"{key}.{spec.name}")


def render_field(spec: FieldSpec, values: dict[str, Any], key: str) -> None:
    import streamlit as st

    present = spec.name in values
    current = values.get(spec.name, None if spec.required else spec.default)
    label = spec.name + (" *" if spec.required else "")
    help_text = spec.help() or None
    new = _widget(st, spec, current, label, help_text, key)
    if new is _UNCHANGED:
        return
    if present and _same(new, current):
        return
    if not present and (_same(new, current) or (spec.required and new in (None, ""))):
        return
    values[spec.name] = new


_UNCHANGED = object()


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, (int, float)) and not isinstance(b, bool):
        return math.isclose(a, b, rel_tol=0, abs_tol=1e-12)
    return (a == b and type(a) is type(b)) or (a is None and b is None)


def _widget(st: Any, spec: FieldSpec, current: Any, label: str, help_text: str | None,
            key: str) -> Any:
    if spec.kind == "bool" and not spec.nullable:
        return st.checkbox(label, value=bool(current), help=help_text, key=key)
    if spec.kind == "choice" or (spec.kind == "bool" and spec.nullable):
        choices = list(spec.choices) if spec.kind == "choice" else [True, False]
        if spec.nullable:
            choices = [None, *choices]
        if current not in choices:  # a value the schema rejects: show it, let validation say
            choices.append(current)
        return st.selectbox(label, choices, index=choices.index(current), help=help_text,
                            key=key, format_func=lambda v: "(none)" if v is None else str(v))
    if spec.kind in ("int", "float") and _plain_number(current, spec):
        return _number(st, spec, current, label, help_text, key)
    if spec.kind == "text" and (current is None or isinstance(current, str)):
        text = st.text_input(label, value="" if current is None else current, help=help_text,
                             key=key, type="password" if spec.secret else "default")
        if text == "" and (spec.nullable or spec.required) and current in (None, ""):
            return current
        return None if text == "" and spec.nullable else text
    return _yaml_field(st, spec, current, label, help_text, key)


def _plain_number(value: Any, spec: FieldSpec) -> bool:
    if value is None:
        return spec.nullable or spec.required
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return spec.kind == "float" or isinstance(value, int)


def _number(st: Any, spec: FieldSpec, current: Any, label: str, help_text: str | None,
            key: str) -> Any:
    is_int = spec.kind == "int"
    cast = int if is_int else float
    low = spec.minimum if spec.minimum is not None else (
        spec.exclusive_minimum + 1 if is_int and spec.exclusive_minimum is not None else None)
    high = spec.maximum if spec.maximum is not None else (
        spec.exclusive_maximum - 1 if is_int and spec.exclusive_maximum is not None else None)
    value = None if current is None else cast(current)
    if value is not None and ((low is not None and value < low)
                              or (high is not None and value > high)):
        low = high = None  # out of bounds already: keep it visible, validation explains
    return st.number_input(
        label, min_value=None if low is None else cast(low),
        max_value=None if high is None else cast(high), value=value,
        step=1 if is_int else _float_step(value), format=None if is_int else "%g",
        help=help_text, key=key,
        placeholder="(none)" if spec.nullable else "required" if spec.required else None)


def _float_step(value: float | None) -> float:
    if not value:
        return 0.1
    magnitude = 10 ** math.floor(math.log10(abs(value)))
    return float(min(max(magnitude / 10, 0.001), 1.0))


def _yaml_field(st: Any, spec: FieldSpec, current: Any, label: str, help_text: str | None,
                key: str) -> Any:
    shown = "" if current is None else yaml.safe_dump(
        current, default_flow_style=True, allow_unicode=True, width=10_000).strip()
    if shown.endswith("\n..."):
        shown = shown[:-4].strip()
    text = st.text_input(f"{label} (YAML)", value=shown, help=help_text, key=key)
    if text == shown:
        return _UNCHANGED
    if not text.strip():
        return None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        st.caption(f":red[{spec.name}: not valid YAML ({getattr(exc, 'problem', exc)})]")
        return _UNCHANGED
