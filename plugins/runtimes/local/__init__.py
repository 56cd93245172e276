"""The embedded CPU runtime: ``local`` (torch, in process, exact token statistics).

Importing this package is cheap; torch and transformers load when a runtime is created.
"""

from __future__ import annotations

from collections.abc import Callable

from ttc.plugin_system import hookimpl

from .runtime import LocalRuntime

__all__ = ["LocalRuntime"]


@hookimpl
def ttc_register_runtimes(register: Callable[[type], None]) -> None:
    register(LocalRuntime)
