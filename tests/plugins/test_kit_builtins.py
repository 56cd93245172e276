"""Every built-in component passes the conformance kit third-party plugins are held to."""

from __future__ import annotations

import pytest

from ttc import PluginHost
from ttc.testing import DEFAULT_TEXTS, check_component, check_plugin, check_task_format
from ttc.testing.harness import make_state

REGISTRY = PluginHost(load_entry_points=False).registry

PARAMS: dict[str, dict] = {"weighted_best_of_n": {"score": "verifier"}}
"""Components with a required parameter, and the value they are checked with."""
VERIFIED = make_state(DEFAULT_TEXTS)
VERIFIED = VERIFIED.with_pool(c.with_scores(verifier=v)
                              for c, v in zip(VERIFIED.pool, (0.9, 0.2, 0.7, 0.4), strict=True))
STATES = {"weighted_best_of_n": VERIFIED}
"""Components that read something the default pool lacks, and the state they get."""
POSITIONAL: dict[str, str] = {
    "first": "its rule is position: the top of the previous stage wins",
    "usc": "the model reads the candidates as a numbered list and names one",
}
"""Selectors whose decision depends on the pool's order by design, and why."""


@pytest.mark.parametrize("name", sorted(REGISTRY.components))
def test_builtin_component_passes_the_kit(name):
    cls = REGISTRY.component(name)
    component = cls.from_params(PARAMS.get(name, {}))
    check_component(component, STATES.get(name), order_invariant=name not in POSITIONAL)


@pytest.mark.parametrize("name", sorted(REGISTRY.tasks))
def test_builtin_task_format_passes_the_kit(name):
    check_task_format(REGISTRY.task(name))


def test_exemptions_name_real_selectors():
    assert set(POSITIONAL) <= set(REGISTRY.components)
    assert set(PARAMS) | set(STATES) <= set(REGISTRY.components)


@pytest.mark.parametrize("module", ["ttc.plugins.selectors.majority",
                                    "ttc.plugins.tasks.builtin"])
def test_builtin_plugin_modules_pass_check_plugin(module):
    import importlib

    registered = check_plugin(importlib.import_module(module), name=module + "-copy")
    assert registered
