"""The run store: every run, stage, candidate, score and model call, recorded as it happens;
replay, counterfactual replay and resume from one fingerprinted call store.

Names are imported on first use, so loading the default storage plugin (every ``ttc``
start) does not import SQLAlchemy.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "RunStore": "ttc.storage.store",
    "default_url": "ttc.storage.store",
    "resolve_url": "ttc.storage.store",
    "Recorder": "ttc.storage.recorder",
    "StoreError": "ttc.storage.errors",
    "RunNotFound": "ttc.storage.errors",
    "ReplayMiss": "ttc.storage.errors",
    "replay": "ttc.storage.replay",
    "resume": "ttc.storage.replay",
    "ReplayReport": "ttc.storage.replay",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ttc.storage' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
