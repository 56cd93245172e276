"""The ``sglang`` runtime: SGLang's native HTTP API (directly or through sglang-router)."""

from __future__ import annotations

from collections.abc import Callable

from ttc.plugin_system import hookimpl

from .runtime import SGLangOptions, SGLangRuntime

__all__ = ["SGLangOptions", "SGLangRuntime"]


@hookimpl
def ttc_register_runtimes(register: Callable[[type], None]) -> None:
    register(SGLangRuntime)
