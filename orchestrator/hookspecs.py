"""Every way to extend ttc, in one file.

A plugin is a module (or object) with functions marked ``@ttc.hookimpl`` whose names match
the specs below. Built-in components and runtimes are plugins too: they register through
these same hooks. Third-party packages are found through the ``ttc`` entry-point group
(set ``TTC_DISABLE_ENTRY_POINTS=1`` to skip them).

Registration hooks receive a ``register`` callback, so a plugin adds things without knowing
the registry's internals. Lifecycle hooks observe a run; they must not change it. A
lifecycle hook that raises is logged and the run goes on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from collections.abc import Callable

    from ttc.calls import ModelCall
    from ttc.dataset import Dataset
    from ttc.events import RunInfo, StageReport
    from ttc.result import RunResult

hookspec = pluggy.HookspecMarker("ttc")


# --- registration ---------------------------------------------------------------------------


@hookspec
def ttc_register_components(register: Callable[[type], None]) -> None:
    """Register component classes: ``register(MyComponent)``.

    A component is a subclass of ``ttc.Component`` with a unique ``name``; its ``Config``
    (pydantic) is its recipe parameters. Called once when the registry is built.
    """


@hookspec
def ttc_register_runtimes(register: Callable[[type], None]) -> None:
    """Register runtime types: ``register(MyRuntime)``.

    A runtime type has a unique ``name``, an ``Options`` pydantic model (the ``options:`` of a
    recipe's ``models:`` entry), ``static_capabilities(options)`` for validation before
    anything loads, and ``create(model, options)`` returning a ``ttc.Runtime``.
    """


@hookspec
def ttc_register_tasks(register: Callable[[type], None]) -> None:
    """Register answer formats (a recipe's ``task:``): ``register(MyTaskFormat)``.

    A task format extracts the final answer from a completion and decides when two
    answers are the same (see ``ttc.TaskFormat``).
    """


@hookspec
def ttc_register_datasets(register: Callable[[Dataset], None]) -> None:
    """Register named data sets for ``ttc eval --dataset NAME``: ``register(Dataset(...))``.

    A ``ttc.Dataset`` has a unique ``name``, a ``description`` of what it measures and a
    ``load()`` returning its items (``ttc.dataset.read_jsonl`` reads a JSONL file).
    """


@hookspec
def ttc_register_step_scorers(register: Callable[[type], None]) -> None:
    """Register step scorers for step-level search: ``register(MyStepScorer)``.

    A step scorer gives each step of a partial solution a score in [0, 1] (a process
    reward): a class with a unique ``name``, a pydantic ``Config`` (its parameters, written
    in a search component's ``scorer: {use: NAME, ...}``), ``max_cost(batch, capabilities)``
    (an upper bound on the model calls and tokens one batch costs, so a search plans within
    its budget) and ``async score(problem, solutions, ctx)`` returning one score per step of
    each solution. Subclass ``ttc.plugins.search.StepScorer``, or ``ProcessRewardModel``
    for question + steps → one score per step.
    """


@hookspec
def ttc_register_commands(cli: Any) -> None:
    """Add sub-commands to the ``ttc`` command line (``cli`` is a ``typer.Typer``)."""


# --- lifecycle ------------------------------------------------------------------------------


@hookspec
def ttc_run_started(run: RunInfo) -> None:
    """A run is about to execute its first stage."""


@hookspec
def ttc_stage_finished(run: RunInfo, stage: StageReport) -> None:
    """A stage (or the final selection) finished; ``stage.pool`` is its output pool."""


@hookspec
def ttc_model_called(run: RunInfo, call: ModelCall) -> None:
    """A model call ended, successfully or not (``call.error``), or was served from a
    recording (``call.replayed``). Called once per attempt that reached a runtime."""


@hookspec
def ttc_run_finished(run: RunInfo, result: RunResult) -> None:
    """A run ended: ``result.status`` is ``succeeded``, ``budget_exhausted`` or ``failed``."""


# --- recorded calls (caching, replay, resume) -----------------------------------------------


@hookspec(firstresult=True)
def ttc_recorded_response(run: RunInfo, fingerprint: str, kind: str) -> Any | None:
    """Return a recorded response for this call fingerprint, or None to call the model.

    The first plugin that returns a response wins; the model is then not called. This is
    how replay, resume and the call cache work (one mechanism).
    """
