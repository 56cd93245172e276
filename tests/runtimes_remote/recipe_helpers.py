"""One recipe body for every backend, and a lifecycle-hook plugin that collects model calls."""

from __future__ import annotations

import threading
from collections.abc import Callable

from ttc.calls import ModelCall
from ttc.plugin_system import PluginHost, hookimpl

RECIPE_BODY = """
task: number
seed: 3
limits: {retries: 4, retry_backoff_s: 0.2, call_timeout_s: 180}
stages:
  - {use: sample, n: 3, temperature: 0.8, max_tokens: 10}
select: {use: majority}
"""


def recipe(models_block: str) -> str:
    """The same stages under a different ``models:`` block: the only thing that changes."""
    return "name: same-everywhere\n" + models_block.strip() + "\n" + RECIPE_BODY


class CallCollector:
    """``ttc_model_called`` observer; ``on_first_success`` fires once (e.g. to kill a worker)."""

    def __init__(self, on_first_success: Callable[[], None] | None = None) -> None:
        self.calls: list[ModelCall] = []
        self._lock = threading.Lock()
        self._on_first = on_first_success

    @hookimpl
    def ttc_model_called(self, run, call: ModelCall) -> None:
        with self._lock:
            self.calls.append(call)
            first = call.error is None and self._on_first is not None
            trigger, self._on_first = (self._on_first, None) if first else (None, self._on_first)
        if trigger is not None:
            trigger()

    @property
    def succeeded(self) -> list[ModelCall]:
        return [c for c in self.calls if c.error is None]

    @property
    def failed(self) -> list[ModelCall]:
        return [c for c in self.calls if c.error is not None]


def host_with(plugin: object) -> PluginHost:
    host = PluginHost(load_entry_points=False)
    host.register(plugin)
    return host
