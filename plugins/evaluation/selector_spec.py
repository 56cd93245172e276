"""Selectors named on the command line: ``NAME`` or ``NAME:param=value,param=value``
(values read as YAML, so ``p=2`` is a number and ``truncated=drop`` a string)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import ValidationError

from ttc.component import Selector
from ttc.errors import UsageError
from ttc.extras import error_text
from ttc.registry import Registry, did_you_mean


@dataclass(frozen=True, slots=True)
class SelectorSpec:
    label: str
    """How curves and tables name it (the spec as written)."""
    selector: Selector


def parse_selector(spec: str, registry: Registry) -> SelectorSpec:
    name, _, rest = spec.partition(":")
    name = name.strip()
    entry = registry.components.get(name)
    cls = entry.obj if entry is not None else None
    if cls is None or not issubclass(cls, Selector):
        selectors = [n for n, e in registry.components.items() if issubclass(e.obj, Selector)]
        hint = did_you_mean(name, selectors) or f"selectors: {', '.join(sorted(selectors))}"
        raise UsageError(f"{name!r} is not a selector; {hint}")
    unavailable = registry.unavailable.get(entry.plugin) if entry is not None else None
    if unavailable:
        raise UsageError(f"selector {name!r} cannot run here: {unavailable}")
    params: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, equals, value = part.partition("=")
        if not equals:
            raise UsageError(f"selector {spec!r}: write parameters as name=value, not {part!r}")
        params[key.strip()] = yaml.safe_load(value) if value.strip() else ""
    try:
        selector = cls.from_params(params)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {error_text(e)}"
                             for e in exc.errors())
        raise UsageError(f"selector {spec!r}: {problems}") from None
    return SelectorSpec(spec.strip(), selector)
