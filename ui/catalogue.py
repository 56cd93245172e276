"""The registry as people browse it: components grouped by kind, each with its docs.

Everything comes from what plugins registered (``ttc.default_host().registry``), so a
third-party component shows up here, with its parameters, as soon as it is installed.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

from ttc.component import Effect
from ttc.registry import Registry

KIND_ORDER = ("generator", "critic", "ranker", "fuser", "verifier", "scorer", "refiner",
              "controller", "selector")
"""Kinds in the order a recipe usually uses them; kinds a plugin adds come after, by name."""


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
    """Every registered component, by kind (``KIND_ORDER``) then name."""
    docs = []
    for name, entry in registry.components.items():
        cls = entry.obj
        doc = inspect.cleandoc(cls.__doc__ or "")
        docs.append(ComponentDoc(name, cls.kind, str(cls.effect), cls.uses_model,
                                 cls.needs_candidates, doc.splitlines()[0] if doc else "", doc,
                                 entry.plugin))
    return sorted(docs, key=lambda d: (_kind_rank(d.kind), d.kind, d.name))


def _kind_rank(kind: str) -> int:
    return KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)


def by_kind(docs: list[ComponentDoc]) -> dict[str, list[ComponentDoc]]:
    grouped: dict[str, list[ComponentDoc]] = {}
    for doc in docs:
        grouped.setdefault(doc.kind, []).append(doc)
    return grouped


def selectors(registry: Registry) -> list[str]:
    """Components that can end a recipe (``select:``)."""
    return sorted(name for name, entry in registry.components.items()
                  if entry.obj.effect is Effect.SELECTS)
