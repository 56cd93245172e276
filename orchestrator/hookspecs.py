"""Every way to extend ttc, in one file.

A plugin is a module (or object) with functions marked ``@ttc.hookimpl`` whose names match
the specs below. Built-in components and runtimes are plugins too: they register through
these same hooks. Third-party packages are found through the ``ttc`` entry-point group
(set ``TTC_DISABLE_ENTRY_POINTS=1`` to skip them).

Registration hooks receive a ``register`` callback, so a plugin adds things without knowing
the registry's internals. Lifecycle hooks observe a run; they must not change it. A
lifecycle hook that raises is logged and the run goes on.

A plugin that needs hooks added after 1.0 says so with a module attribute
``REQUIRES_HOOKSPEC = "1.1"``: a ttc whose ``HOOKSPEC_VERSION`` has another major number or
a smaller minor one skips the plugin and says why, instead of failing later. The hook
reference in docs/plugins.md is generated from this file (``python -m
ttc.testing.hook_reference --write docs/plugins.md``; a test fails when it is stale).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from collections.abc import Callable

    from ttc.calls import ModelCall
    from ttc.component import Component
    from ttc.dataset import Dataset
    from ttc.events import RunInfo, StageReport
    from ttc.pipeline_options import PipelineOptions
    from ttc.result import RunResult
    from ttc.runtime import RuntimeType
    from ttc.task_format import TaskFormat

hookspec = pluggy.HookspecMarker("ttc")

HOOKSPEC_VERSION = "1.4"
"""The version of these specs. A new hook adds one to the minor number; changing or removing
a hook's arguments adds one to the major number. 1.0: components, runtimes, tasks,
commands, the lifecycle and recorded responses; 1.1: ``ttc_register_datasets``; 1.2:
``ttc_register_step_scorers``; 1.3: ``ttc_plugin_status``; 1.4:
``ttc_register_pipeline_options``."""


# --- registration ---------------------------------------------------------------------------


@hookspec
def ttc_register_components(register: Callable[[type[Component]], None]) -> None:
    """Register component classes: ``register(MyComponent)``.

    A component is a subclass of ``ttc.Component`` with a unique ``name``, a ``kind``, an
    ``effect`` (``ttc.Effect``), a ``Config`` (a ``ttc.ComponentConfig``: its recipe
    parameters) and ``async def run(self, state, ctx)``; a selector subclasses
    ``ttc.Selector`` and implements ``async def select(self, pool, ctx)``. Called once when
    the registry is built; what does not fit is refused there with a message naming the
    plugin (the rest of the plugin still loads).
    """


@hookspec
def ttc_register_runtimes(register: Callable[[type[RuntimeType]], None]) -> None:
    """Register runtime types: ``register(MyRuntime)``.

    A runtime type has a unique ``name``, an ``Options`` pydantic model (the ``options:`` of a
    recipe's ``models:`` entry), ``static_capabilities(options)`` for validation before
    anything loads, and ``create(model, options)`` returning a ``ttc.Runtime``.
    """


@hookspec
def ttc_register_tasks(register: Callable[[type[TaskFormat]], None]) -> None:
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
    """Add sub-commands to the ``ttc`` command line: ``cli.command("name")(function)`` or
    ``cli.add_typer(group, name="name")`` (``cli`` is a ``typer.Typer``)."""


@hookspec
def ttc_register_pipeline_options(register: Callable[[PipelineOptions], None]) -> None:
    """Add options to the commands that run recipes (``ttc run``):
    ``register(PipelineOptions(options=(PipelineOption("db", ("--db",), "Store URL."),),
    configure=lambda db: {"store": db}))``.

    ``configure`` receives every option's value by name and returns keyword arguments for
    ``ttc.Pipeline``; the command passes them on. This is how a plugin configures the runs
    it takes part in (the run store's ``--db`` and ``--no-record``) without the core knowing
    it and without environment variables. Option names and flags are unique across plugins.
    """


@hookspec
def ttc_plugin_status() -> str | None:
    """Return None when this plugin works here, else one line saying why not and how to fix
    it (e.g. ``pip install 'ttc-orchestrator[otel]'``). ``ttc plugins`` shows it; a plugin
    that is unavailable still registers what it can, so a recipe that names its runtime
    fails validation with the same hint instead of "unknown runtime". Asked of each plugin
    on its own, not as one call over all plugins."""


# --- lifecycle ------------------------------------------------------------------------------


@hookspec
def ttc_run_started(run: RunInfo) -> None:
    """A run is about to execute its first stage. ``run`` names the run (``run_id``, the
    recipe, the task, the seed) in every lifecycle hook of that run; runs of one process may
    interleave, so key anything you keep by ``run.run_id``."""


@hookspec
def ttc_stage_finished(run: RunInfo, stage: StageReport) -> None:
    """A stage (or the final selection, ``stage.name == "select"``) finished, succeeded or
    not (``stage.status``); ``stage.pool`` is its output pool, ``stage.usage`` its tokens,
    calls and warnings. Fired after every ``ttc_model_called`` of that stage. A stage inside a
    ``repeat`` block is reported once per round (``stage.round``), with that round's usage."""


@hookspec
def ttc_model_called(run: RunInfo, call: ModelCall) -> None:
    """A model call ended, successfully or not (``call.error``), or was served from a
    recording (``call.replayed``). Called once per attempt that reached a runtime, so a
    retried call is reported once per attempt (``call.attempt``), on the event loop of the
    run: return quickly."""


@hookspec
def ttc_run_finished(run: RunInfo, result: RunResult) -> None:
    """A run ended: ``result.status`` is ``succeeded``, ``budget_exhausted`` or ``failed``
    (``result.error`` says why). The last lifecycle hook of a run."""


# --- recorded calls (caching, replay, resume) -----------------------------------------------


@hookspec(firstresult=True)
def ttc_recorded_response(run: RunInfo, fingerprint: str, kind: str) -> Any | None:
    """Return a recorded response for this call fingerprint, or None to call the model.

    The first plugin that returns a response wins; the model is then not called. This is
    how replay, resume and the call cache work (one mechanism).
    """
