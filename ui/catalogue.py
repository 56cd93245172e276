"""The registry as people browse it: components grouped by kind, each with its docs.

Everything comes from what plugins registered (``ttc.default_host().registry``), so a
third-party component shows up here, with its parameters, as soon as it is installed.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

from ttc.component import Effect
from ttc.registry import Registry


@dataclass(frozen=True, slots=True)
class ComponentDoc:
    name: str
    kind: str
    effect: str
    uses_model: bool
    needs_candidates: bool
    summary: str
    """The docstring's first line (what ``ttc components`` prints)."""
    doc: str
    plugin: str

    @property
    def label(self) -> str:
        return f"{self.kind} · {self.name}"


def component_docs(registry: Registry) -> list[ComponentDoc]:
    """Every registered component, sorted by kind then name."""
    docs = []
    for name, entry in registry.components.items():
        cls = entry.obj
        doc = inspect.cleandoc(cls.__doc__ or "")
        docs.append(ComponentDoc(name, cls.kind, str(cls.effect), cls.uses_model,
                                 cls.needs_candidates, doc.splitlines()[0] if doc else "", doc,
                                 entry.plugin))
    return sorted(docs, key=lambda d: (d.kind, d.name))


def by_kind(docs: list[ComponentDoc]) -> dict[str, list[ComponentDoc]]:
    grouped: dict[str, list[ComponentDoc]] = {}
    for doc in docs:
        grouped.setdefault(doc.kind, []).append(doc)
    return grouped


def selectors(registry: Registry) -> list[str]:
    """Components that can end a recipe (``select:``)."""
    return sorted(name for name, entry in registry.components.items()
                  if entry.obj.effect is Effect.SELECTS)
