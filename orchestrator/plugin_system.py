"""The plugin manager: built-in plugins first, then the ``ttc`` entry-point group.

Built-ins are listed here by module name and registered exactly as a third-party package's
entry point would be; nothing in the core knows what they contain. A built-in that needs one
of ttc-orchestrator's extras (``BUILTIN_EXTRAS``) is still imported and registered without
it (importing it is cheap, its heavy imports wait for use), is listed by ``ttc plugins`` as
unavailable with the install command, and a recipe that uses what it registered fails
validation with that command.

A broken plugin (it fails to import, a hook has arguments its spec lacks, it needs a newer
hook spec, it registers something that does not fit, a registration hook raises) is logged
with its name and listed by ``ttc plugins`` with the problem; ttc goes on without it (or
without the part that failed).
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from typing import Any

import pluggy

from ttc import extras, hookspecs
from ttc.registry import RegistrationError, Registry, did_you_mean

logger = logging.getLogger(__name__)

hookimpl = pluggy.HookimplMarker("ttc")

ENTRY_POINT_GROUP = "ttc"
DISABLE_ENTRY_POINTS_ENV = "TTC_DISABLE_ENTRY_POINTS"

DEFAULT_PLUGINS: tuple[str, ...] = (
    "ttc.plugins.tasks.builtin",
    "ttc.plugins.tasks.answer_is",
    "ttc.plugins.tasks.code_block",
    "ttc.plugins.tasks.json_field",
    "ttc.plugins.generators.sample",
    "ttc.plugins.selectors.majority",
    "ttc.plugins.selectors.first",
    "ttc.plugins.selectors.self_certainty",
    "ttc.plugins.selectors.borda",
    "ttc.plugins.selectors.mbr",
    "ttc.plugins.selectors.usc",
    "ttc.plugins.selectors.gsc",
    "ttc.plugins.selectors.perplexity_consistency",
    "ttc.plugins.selectors.inverse_entropy_vote",
    "ttc.plugins.selectors.weighted_best_of_n",
    "ttc.plugins.controllers.early_stopping_sc",
    "ttc.plugins.controllers.adaptive_sc",
    "ttc.plugins.controllers.first_finish",
    "ttc.plugins.controllers.confidence_pruning",
    "ttc.plugins.generators.ensemble",
    "ttc.plugins.critics.critic",
    "ttc.plugins.rankers.ranker",
    "ttc.plugins.fusers.fuser",
    "ttc.plugins.verifiers.archon_verifier",
    "ttc.plugins.verifiers.yes_no",
    "ttc.plugins.verifiers.unit_tests",
    "ttc.plugins.verifiers.executed_tests",
    "ttc.plugins.verifiers.arithmetic_check",
    "ttc.plugins.executors.program_of_thought",
    "ttc.plugins.scorers.self_eval",
    "ttc.plugins.refiners.self_refine",
    "ttc.plugins.refiners.iad",
    "ttc.plugins.refiners.sequential_refine",
    "ttc.plugins.refiners.wait_continuation",
    "ttc.plugins.search.beam_search",
    "ttc.plugins.search.dvts",
    "ttc.plugins.search.particle_filtering",
    "ttc.plugins.search.astar_decoding",
    "ttc.plugins.search.scorers.self_eval",
    "ttc.plugins.search.scorers.arithmetic",
    "ttc.plugins.search.scorers.token_confidence",
    "ttc.plugins.search.scorers.prm",
    "ttc.plugins.search.prm_endpoint",
    "ttc.plugins.archon",
    "ttc.plugins.runtimes.scripted",
    "ttc.plugins.runtimes.local",
    "ttc.plugins.runtimes.sglang",
    "ttc.plugins.runtimes.openai",
    "ttc.plugins.runtimes.litellm",
    "ttc.plugins.cluster",
    "ttc.plugins.server",
    "ttc.plugins.tracing",
    "ttc.storage.plugin",
    "ttc.ui.plugin",
    "ttc.plugins.evaluation.datasets.builtin",
    "ttc.plugins.evaluation.plugin",
)

BUILTIN_EXTRAS: dict[str, tuple[str, ...]] = {
    "ttc.plugins.selectors.gsc": ("metrics",),
    "ttc.plugins.controllers.adaptive_sc": ("metrics",),
    "ttc.plugins.runtimes.local": ("local",),
    "ttc.plugins.runtimes.litellm": ("litellm",),
    "ttc.plugins.cluster": ("cluster", "serve"),
    "ttc.plugins.server": ("serve",),
    "ttc.plugins.tracing": ("otel",),
    "ttc.ui.plugin": ("ui",),
}
"""The built-ins that need one of ttc-orchestrator's extras (``ttc.extras``): the one place
that says so (a third-party plugin says why it cannot work through ``ttc_plugin_status``).
Options that need one (``mbr``'s ``utility: embedding``) check it in their config
(``ttc.extras.check_option``)."""


REGISTRATION_HOOKS = {
    "ttc_register_components": "add_component",
    "ttc_register_runtimes": "add_runtime",
    "ttc_register_tasks": "add_task",
    "ttc_register_datasets": "add_dataset",
    "ttc_register_step_scorers": "add_step_scorer",
    "ttc_register_pipeline_options": "add_pipeline_options",
}
"""Hooks that fill the registry → the ``Registry`` method each registered object goes to.
Each is called on each plugin on its own, so one plugin's failure is that plugin's alone."""


@dataclass(frozen=True, slots=True)
class PluginInfo:
    name: str
    origin: str
    """``builtin``, ``entry-point`` or ``runtime`` (registered by code at run time)."""
    distribution: str | None
    version: str | None
    status: str = "ok"
    """``ok``; ``unavailable`` (its ``ttc_plugin_status`` says why, e.g. a missing extra);
    ``partly loaded`` (something it registered was refused, or a hook raised); ``failed``
    (not loaded at all)."""
    problems: tuple[str, ...] = ()
    """What went wrong, one line each, naming the plugin and the fix."""


class PluginHost:
    """Owns the pluggy manager and the registry built from it."""

    def __init__(self, *, load_entry_points: bool | None = None) -> None:
        self.pm = pluggy.PluginManager("ttc")
        self.pm.add_hookspecs(hookspecs)
        self._info: dict[str, PluginInfo] = {}
        self._failed: dict[str, PluginInfo] = {}
        self._problems: dict[str, list[str]] = {}
        self._registry: Registry | None = None
        builtin_version = _version("ttc-orchestrator")
        for module_name in DEFAULT_PLUGINS:
            info = PluginInfo(module_name, "builtin", "ttc-orchestrator", builtin_version)
            try:
                module = importlib.import_module(module_name)
            except Exception as exc:
                self._fail(info, f"cannot be imported: {type(exc).__name__}: {exc}")
                continue
            self._add(module, info)
        if load_entry_points is None:
            load_entry_points = not os.environ.get(DISABLE_ENTRY_POINTS_ENV)
        if load_entry_points:
            self._load_entry_points()

    def _load_entry_points(self) -> None:
        for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
            if self.pm.get_plugin(entry_point.name) is not None:
                continue
            dist = entry_point.dist
            info = PluginInfo(entry_point.name, "entry-point", dist.name if dist else None,
                              dist.version if dist else None)
            try:
                plugin = entry_point.load()
            except Exception as exc:  # a broken third-party plugin must not break ttc
                self._fail(info, f"cannot be imported ({entry_point.value}): "
                                 f"{type(exc).__name__}: {exc}")
                continue
            self._add(plugin, info)

    def _add(self, plugin: object, info: PluginInfo) -> bool:
        """Register one plugin after the checks pluggy does not make; False if refused."""
        needed = getattr(plugin, "REQUIRES_HOOKSPEC", None)
        if needed is not None and not hookspec_satisfies(str(needed)):
            self._fail(info, f"needs hook spec {needed}, this ttc has "
                             f"{hookspecs.HOOKSPEC_VERSION}: upgrade ttc-orchestrator")
            return False
        try:
            self.pm.register(plugin, name=info.name)
        except pluggy.PluginValidationError as exc:
            reason = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
            self._fail(info, f"has a hook that does not match its spec: {reason}")
            return False
        except ValueError as exc:  # pluggy's "already registered" (its text lists them all)
            self._fail(info, f"cannot be registered: {str(exc).splitlines()[0][:200]}")
            return False
        self._info[info.name] = info
        for caller in self.pm.get_hookcallers(plugin) or ():
            if not caller.has_spec():  # pluggy accepts any ttc_* name: say it is a typo
                hint = did_you_mean(caller.name, _spec_names()) or "see ttc.hookspecs"
                self._problem(info.name, f"{caller.name} is not a ttc hook and is never "
                                         f"called; {hint}")
        return True

    def _fail(self, info: PluginInfo, problem: str) -> None:
        logger.warning("plugin %r %s", info.name, problem)
        self._failed[info.name] = PluginInfo(info.name, info.origin, info.distribution,
                                             info.version, "failed", (problem,))

    def _problem(self, name: str, problem: str) -> None:
        named = f"plugin {name!r}" in problem  # registry errors name the plugin already
        logger.warning("%s", problem if named else f"plugin {name!r}: {problem}")
        self._problems.setdefault(name, []).append(problem)

    def register(self, plugin: object, name: str | None = None) -> str:
        """Register a plugin object at run time (tests, the CLI's progress display)."""
        registered = self.pm.register(plugin, name=name)
        assert registered is not None
        self._info[registered] = PluginInfo(registered, "runtime", None, None)
        self._registry = None
        return registered

    def unregister(self, name: str) -> None:
        self.pm.unregister(name=name)
        self._info.pop(name, None)
        self._registry = None

    @property
    def hook(self) -> pluggy.HookRelay:
        return self.pm.hook

    def plugins(self) -> list[PluginInfo]:
        """Every plugin, loaded or not, with its status and problems."""
        registry = self.registry  # registration problems are found while it is built
        rows = []
        for name, _plugin in self.pm.list_name_plugin():
            if name not in self._info:
                continue
            info = self._info[name]
            problems = tuple(self._problems.get(name, ()))
            status = "partly loaded" if problems else "ok"
            unavailable = registry.unavailable.get(name)
            if unavailable:
                status, problems = "unavailable", (unavailable, *problems)
            rows.append(PluginInfo(info.name, info.origin, info.distribution, info.version,
                                   status, problems))
        return rows + list(self._failed.values())

    def hooks_of(self, name: str) -> list[str]:
        """The hooks a registered plugin implements, in spec order."""
        plugin = self.pm.get_plugin(name)
        if plugin is None:
            return []
        names = {caller.name for caller in self.pm.get_hookcallers(plugin) or ()}
        order = _spec_names()
        return sorted(names, key=lambda n: (order.index(n) if n in order else len(order), n))

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = self._build_registry()
        return self._registry

    def _build_registry(self) -> Registry:
        registry = Registry()
        for name, plugin in self.pm.list_name_plugin():
            for hook, method in REGISTRATION_HOOKS.items():
                impl = getattr(plugin, hook, None)
                if impl is None:
                    continue
                try:
                    impl(register=self._guarded(getattr(registry, method), name))
                except Exception as exc:  # the plugin's own code raised
                    self._problem(name, f"{hook} raised {type(exc).__name__}: {exc}")
            unavailable = self._unavailable(name, plugin)
            if unavailable:
                registry.unavailable[name] = unavailable
        return registry

    def _unavailable(self, name: str, plugin: object) -> str | None:
        """Why a plugin cannot work here: a built-in's missing extra, or what its own
        ``ttc_plugin_status`` says; None when it can."""
        info = self._info.get(name)
        if info is not None and info.origin == "builtin":
            for extra in BUILTIN_EXTRAS.get(name, ()):
                problem = extras.missing(extra)
                if problem:
                    return problem
        return _status_of(plugin)

    def register_commands(self, cli: Any) -> None:
        """Let every plugin add its ``ttc`` sub-commands; one that raises is logged and the
        others still add theirs."""
        for name, plugin in self.pm.list_name_plugin():
            impl = getattr(plugin, "ttc_register_commands", None)
            if impl is None:
                continue
            try:
                impl(cli=cli)
            except Exception as exc:
                self._problem(name, f"ttc_register_commands raised {type(exc).__name__}: "
                                    f"{exc}")

    def _guarded(self, add: Callable[[Any, str], None], plugin: str) -> Callable[[Any], None]:
        """``register`` for one plugin: a refused item is that plugin's problem, logged,
        and the plugin's other items still register."""
        def register(obj: Any) -> None:
            try:
                add(obj, plugin)
            except RegistrationError as exc:
                self._problem(plugin, str(exc))

        return register


def hookspec_satisfies(needed: str) -> bool:
    """Whether this ttc's hook spec offers what a plugin written for ``needed`` uses: the
    same major number and at least its minor one."""
    try:
        have = tuple(int(x) for x in hookspecs.HOOKSPEC_VERSION.split("."))
        want = tuple(int(x) for x in needed.split("."))
    except ValueError:
        return False
    return len(want) == 2 and want[0] == have[0] and want[1] <= have[1]


@cache
def _spec_names() -> list[str]:
    return [name for name in vars(hookspecs) if name.startswith("ttc_")]


def _status_of(plugin: object) -> str | None:
    status = getattr(plugin, "ttc_plugin_status", None)
    if status is None:
        return None
    try:
        return status()
    except Exception as exc:
        return f"ttc_plugin_status raised {type(exc).__name__}: {exc}"


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


@cache
def default_host() -> PluginHost:
    """The process-wide plugin host (built-ins plus installed entry points)."""
    return PluginHost()
