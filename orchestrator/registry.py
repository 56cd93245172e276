"""The registry: every component, runtime type and task format that plugins registered."""

from __future__ import annotations

import difflib
import inspect
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeGuard, TypeVar

from pydantic import BaseModel

from ttc.component import Component, ComponentConfig, Effect, Selector
from ttc.dataset import Dataset
from ttc.pipeline_options import PipelineOptions
from ttc.runtime import RuntimeType
from ttc.task_format import TaskFormat

RegisterComponent = Callable[[type[Component[Any]]], None]
"""The ``register`` that ``ttc_register_components`` receives (see ``ttc.hookspecs``)."""
RegisterRuntime = Callable[[type[RuntimeType]], None]
"""The ``register`` that ``ttc_register_runtimes`` receives."""
RegisterTask = Callable[[type[TaskFormat[Any]]], None]
"""The ``register`` that ``ttc_register_tasks`` receives."""
RegisterDataset = Callable[[Dataset], None]
"""The ``register`` that ``ttc_register_datasets`` receives."""
RegisterStepScorer = Callable[[type[Any]], None]
"""The ``register`` that ``ttc_register_step_scorers`` receives (a ``StepScorer`` class)."""


class RegistrationError(TypeError):
    """A plugin registered something that does not fit; names the plugin and the fix."""


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Registered(Generic[T]):
    """One registered object and the plugin that registered it."""

    obj: T
    plugin: str


@dataclass
class Registry:
    components: dict[str, Registered[type[Component[Any]]]] = field(default_factory=dict)
    runtimes: dict[str, Registered[type[RuntimeType]]] = field(default_factory=dict)
    tasks: dict[str, Registered[type[TaskFormat[Any]]]] = field(default_factory=dict)
    datasets: dict[str, Registered[Dataset]] = field(default_factory=dict)
    step_scorers: dict[str, Registered[type[Any]]] = field(default_factory=dict)
    """Step scorer classes (``ttc.plugins.search.StepScorer``, a plugin's base the core does
    not import: checked here by their shape, narrowed by the search plugin that uses them)."""
    pipeline_options: dict[str, Registered[PipelineOptions]] = field(default_factory=dict)
    """``PipelineOptions`` by their flags (e.g. ``--record/--no-record --db``)."""
    unavailable: dict[str, str] = field(default_factory=dict)
    """Plugins that cannot work here → why, with the fix (e.g. a missing extra and its
    install command): what they registered is known, so a recipe that uses it fails
    validation with that fix, not as an unknown name."""

    def component(self, name: str) -> type[Component[Any]]:
        return self.components[name].obj

    def runtime(self, name: str) -> type[RuntimeType]:
        return self.runtimes[name].obj

    def task(self, name: str) -> type[TaskFormat[Any]]:
        return self.tasks[name].obj

    def dataset(self, name: str) -> Dataset:
        return self.datasets[name].obj

    def add_component(self, cls: object, plugin: str) -> None:
        if not (isinstance(cls, type) and issubclass(cls, Component)):
            raise RegistrationError(f"plugin {plugin!r} registered {cls!r}, not a ttc.Component")
        for attr in ("name", "kind", "effect"):
            if not hasattr(cls, attr):
                raise RegistrationError(
                    f"component {cls.__qualname__} from plugin {plugin!r} has no {attr!r}"
                )
        if not isinstance(cls.effect, Effect):
            raise RegistrationError(f"component {cls.name!r}: effect must be a ttc.Effect")
        problem = component_problem(cls)
        if problem:
            raise RegistrationError(f"component {cls.name!r} from plugin {plugin!r}: {problem}")
        _add(self.components, "component", cls.name, cls, plugin)

    def add_runtime(self, cls: object, plugin: str) -> None:
        if not _is_runtime_type(cls):
            missing = [attr for attr in RUNTIME_TYPE_ATTRIBUTES if not hasattr(cls, attr)]
            raise RegistrationError(
                f"runtime {cls!r} from plugin {plugin!r} has no {', '.join(map(repr, missing))}"
                " (see ttc.RuntimeType)"
            )
        _add(self.runtimes, "runtime", cls.name, cls, plugin)

    def add_task(self, cls: object, plugin: str) -> None:
        if not (isinstance(cls, type) and issubclass(cls, TaskFormat)):
            raise RegistrationError(f"plugin {plugin!r} registered {cls!r}, not a ttc.TaskFormat")
        _add(self.tasks, "task", cls.name, cls, plugin)


    def add_dataset(self, dataset: object, plugin: str) -> None:
        if not isinstance(dataset, Dataset):
            raise RegistrationError(f"plugin {plugin!r} registered {dataset!r}, not a "
                                    "ttc.Dataset")
        _add(self.datasets, "data set", dataset.name, dataset, plugin)

    def add_pipeline_options(self, group: object, plugin: str) -> None:
        if not isinstance(group, PipelineOptions):
            raise RegistrationError(f"plugin {plugin!r} registered {group!r}, not "
                                    "ttc.PipelineOptions")
        problem = group.problem()
        if problem:
            raise RegistrationError(f"plugin {plugin!r}: {problem}")
        for entry in self.pipeline_options.values():
            other = entry.obj
            clash = ({o.name for o in group.options} & {o.name for o in other.options}
                     or group.flags() & other.flags())
            if clash and other is not group:
                raise RegistrationError(
                    f"plugin {plugin!r} adds run option(s) {', '.join(sorted(clash))}, which "
                    f"plugin {entry.plugin!r} already adds; rename them")
        label = " ".join(flag for option in group.options for flag in option.flags)
        _add(self.pipeline_options, "run options", label, group, plugin)

    def step_scorer(self, name: str) -> type[Any]:
        return self.step_scorers[name].obj

    def add_step_scorer(self, cls: object, plugin: str) -> None:
        if not isinstance(cls, type):
            raise RegistrationError(f"plugin {plugin!r} registered {cls!r}, not a step scorer "
                                    "class (see ttc.plugins.search.StepScorer)")
        name = getattr(cls, "name", None)
        config = getattr(cls, "Config", None)
        problems = [what for what, ok in (
            ("a text 'name'", isinstance(name, str) and bool(name)),
            ("a pydantic 'Config'", isinstance(config, type) and issubclass(config, BaseModel)),
            ("an async 'score'", inspect.iscoroutinefunction(getattr(cls, "score", None))),
            ("a 'max_cost'", callable(getattr(cls, "max_cost", None))),
        ) if not ok]
        if problems or not isinstance(name, str):
            raise RegistrationError(
                f"step scorer {cls.__qualname__} from plugin {plugin!r} needs "
                f"{', '.join(problems)} (see ttc.plugins.search.StepScorer)")
        _add(self.step_scorers, "step scorer", name, cls, plugin)


RUNTIME_TYPE_ATTRIBUTES = ("name", "Options", "static_capabilities", "create")
"""What ``add_runtime`` checks a runtime type has (``ttc.RuntimeType``)."""


def _is_runtime_type(obj: object) -> TypeGuard[type[RuntimeType]]:
    """Has what ``ttc.RuntimeType`` declares (checked by name: ``issubclass`` cannot check a
    Protocol whose members include data)."""
    return all(hasattr(obj, attr) for attr in RUNTIME_TYPE_ATTRIBUTES)


def _add(table: dict[str, Registered[T]], what: str, name: str, obj: T, plugin: str) -> None:
    previous = table.get(name)
    if previous is not None and previous.obj is not obj:
        raise RegistrationError(
            f"{what} {name!r} is registered twice: by plugin {previous.plugin!r} and by "
            f"{plugin!r}; rename one of them"
        )
    table[name] = Registered(obj, plugin)


def did_you_mean(name: str, choices: list[str] | dict[str, Any]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else ""


def component_problem(cls: type[Component]) -> str | None:
    """What the loader can tell is wrong with a component class before any run: a method
    the executor awaits that is not ``async def``, a ``Config`` that is not a
    ``ttc.ComponentConfig`` or cannot be shown as a form (its JSON schema)."""
    for method in ("run", "select") if issubclass(cls, Selector) else ("run",):
        if not inspect.iscoroutinefunction(getattr(cls, method)):
            return (f"{method}() must be 'async def {method}(self, "
                    f"{'pool' if method == 'select' else 'state'}, ctx)'; a plain def fails "
                    "when the run awaits it")
    config = getattr(cls, "Config", None)
    if not (isinstance(config, type) and issubclass(config, ComponentConfig)):
        return "Config must subclass ttc.ComponentConfig (its recipe parameters)"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a default JSON cannot hold is only a warning
        try:
            config.model_json_schema()
        except Exception as exc:
            return (f"its Config has no JSON schema (recipes, docs and the UI need one): "
                    f"{type(exc).__name__}: {exc}")
    return None
