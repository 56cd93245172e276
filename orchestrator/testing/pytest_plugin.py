"""ttc's pytest plugin (entry point ``pytest11``: ``ttc = "ttc.testing.pytest_plugin"``):
fixtures for testing plugins and recipes without a model, a server or the user's run store.

- ``ttc_scripted``: a factory of scripted runtimes, ``ttc_scripted(["5", "6"])``;
- ``ttc_run_store``: a run store in the test's temporary folder, closed afterwards;
- ``ttc_run_recipe``: run a recipe (YAML text, a path or a dict) on one task, every model
  on the scripted runtime, recording nothing unless given ``store=``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from ttc.testing.harness import scripted


@pytest.fixture
def ttc_scripted() -> Callable[..., Any]:
    """``ttc_scripted(responses, **options)``: a fresh scripted runtime (see
    ``ttc.testing.scripted``)."""
    return scripted


@pytest.fixture
def ttc_run_store(tmp_path: Path) -> Iterator[Any]:
    """A ``ttc.storage.RunStore`` on a SQLite file of its own; pass it as ``store=`` to
    ``ttc_run_recipe`` (or ``Pipeline(store=...)``) to record runs there."""
    from ttc.storage.store import RunStore

    store = RunStore.open(f"sqlite:///{tmp_path / 'ttc-runs.db'}")
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def ttc_run_recipe() -> Callable[..., Any]:
    """``ttc_run_recipe(recipe, task, responses=None, seed=None, store=False)`` → RunResult.

    ``recipe`` is YAML text, a path or a dict. Every model is put on the scripted runtime
    answering ``responses`` (given, or its scripted options, or ``["42"]``); a recipe with
    no ``models:`` gets one. Plugins come from the default host, installed entry points
    included."""
    return run_recipe


def run_recipe(recipe: str | Path | Mapping[str, Any], task: Any = "What is 2 + 3?", *,
               responses: Sequence[str] | None = None, seed: int | None = None,
               store: Any = False) -> Any:
    from ttc.pipeline import Pipeline

    data = _as_dict(recipe)
    data["models"] = scripted_models(data.get("models"), responses)
    return Pipeline.from_dict(data, store=store).run(task, seed=seed)


def scripted_models(models: Any, responses: Sequence[str] | None) -> dict[str, Any]:
    """The recipe's model aliases, each on the scripted runtime."""
    if not isinstance(models, Mapping) or not models:
        models = {"m": {}}
    out = {}
    for alias, spec in models.items():
        options = {}
        if isinstance(spec, Mapping) and spec.get("runtime") == "scripted":
            options = dict(spec.get("options") or {})
        if responses is not None or "responses" not in options:
            options["responses"] = list(responses or ["42"])
        out[alias] = {"runtime": "scripted", "options": options}
    return out


def _as_dict(recipe: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    import yaml

    if isinstance(recipe, Mapping):
        return dict(recipe)
    text = recipe.read_text(encoding="utf-8") if isinstance(recipe, Path) else recipe
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError("a recipe is a YAML mapping")
    return data
