"""ttc.testing: the conformance kit for plugin authors (and ttc's own built-ins).

Checks you call from your tests (each raises ``ConformanceError``, an AssertionError, listing
every problem with its fix)::

    from ttc.testing import check_component, check_plugin

    def test_my_plugin_follows_the_rules():
        check_plugin(my_package.ttc_plugin)      # loads it as ttc would, checks all it registers

    def test_my_selector_on_my_pool():
        check_component(MySelector, make_state(["5", "6", "5"]))

Installed as a pytest plugin (entry point ``pytest11``), it also gives the fixtures
``ttc_scripted`` (a scripted runtime factory), ``ttc_run_store`` (a run store in a temporary
folder) and ``ttc_run_recipe`` (run a recipe on the scripted runtime). The harness
(``run_component``) runs one component on a state of your choosing with the executor's
context. Importing this package imports no plugin.
"""

from ttc.testing.checks import (
    DEFAULT_TEXTS,
    ConformanceError,
    check_component,
    check_config,
    check_coroutines,
    check_effect,
    check_order_invariance,
    check_plugin,
    check_task_format,
    snapshot,
)
from ttc.testing.harness import (
    ComponentRun,
    arun_component,
    make_pool,
    make_state,
    make_task,
    run_component,
    scripted,
)

__all__ = [
    "DEFAULT_TEXTS",
    "ComponentRun",
    "ConformanceError",
    "arun_component",
    "check_component",
    "check_config",
    "check_coroutines",
    "check_effect",
    "check_order_invariance",
    "check_plugin",
    "check_task_format",
    "make_pool",
    "make_state",
    "make_task",
    "run_component",
    "scripted",
    "snapshot",
]
