"""The plugin manager: built-in plugins first, then the ``ttc`` entry-point group.

Built-ins are listed here by module name and registered exactly as a third-party package's
entry point would be; nothing in the core knows what they contain.
"""

from __future__ import annotations

import importlib
import logging
import os
from dataclasses import dataclass
from functools import cache
from importlib import metadata

import pluggy

from ttc import hookspecs
from ttc.registry import Registry

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
    "ttc.plugins.cluster",
    "ttc.plugins.server",
    "ttc.storage.plugin",
    "ttc.ui.plugin",
    "ttc.plugins.evaluation.datasets.builtin",
    "ttc.plugins.evaluation.plugin",
)


@dataclass(frozen=True, slots=True)
class PluginInfo:
    name: str
    origin: str
    """``builtin``, ``entry-point`` or ``runtime`` (registered by code at run time)."""
    distribution: str | None
    version: str | None


class PluginHost:
    """Owns the pluggy manager and the registry built from it."""

    def __init__(self, *, load_entry_points: bool | None = None) -> None:
        self.pm = pluggy.PluginManager("ttc")
        self.pm.add_hookspecs(hookspecs)
        self._info: dict[str, PluginInfo] = {}
        self._registry: Registry | None = None
        for module_name in DEFAULT_PLUGINS:
            module = importlib.import_module(module_name)
            self.pm.register(module, name=module_name)
            self._info[module_name] = PluginInfo(module_name, "builtin", "ttc-orchestrator",
                                                 _version("ttc-orchestrator"))
        if load_entry_points is None:
            load_entry_points = not os.environ.get(DISABLE_ENTRY_POINTS_ENV)
        if load_entry_points:
            self._load_entry_points()

    def _load_entry_points(self) -> None:
        for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
            if self.pm.get_plugin(entry_point.name) is not None:
                continue
            try:
                plugin = entry_point.load()
            except Exception as exc:  # a broken third-party plugin must not break ttc
                logger.warning("plugin %s failed to load: %s", entry_point.name, exc)
                continue
            self.pm.register(plugin, name=entry_point.name)
            dist = entry_point.dist
            self._info[entry_point.name] = PluginInfo(
                entry_point.name,
                "entry-point",
                dist.name if dist else None,
                dist.version if dist else None,
            )

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
        return [self._info[name] for name, _ in self.pm.list_name_plugin() if name in self._info]

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = self._build_registry()
        return self._registry

    def _build_registry(self) -> Registry:
        registry = Registry()
        for name, plugin in self.pm.list_name_plugin():
            for hook, add in (
                ("ttc_register_components", registry.add_component),
                ("ttc_register_runtimes", registry.add_runtime),
                ("ttc_register_tasks", registry.add_task),
                ("ttc_register_datasets", registry.add_dataset),
                ("ttc_register_step_scorers", registry.add_step_scorer),
            ):
                impl = getattr(plugin, hook, None)
                if impl is not None:
                    impl(register=lambda obj, _add=add, _name=name: _add(obj, _name))
        return registry


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


@cache
def default_host() -> PluginHost:
    """The process-wide plugin host (built-ins plus installed entry points)."""
    return PluginHost()
