"""The ``openai`` runtime: any OpenAI-compatible endpoint through the official client."""

from __future__ import annotations

from collections.abc import Callable

from ttc.plugin_system import hookimpl

from .runtime import OpenAIOptions, OpenAIRuntime

__all__ = ["OpenAIOptions", "OpenAIRuntime"]


@hookimpl
def ttc_register_runtimes(register: Callable[[type], None]) -> None:
    register(OpenAIRuntime)
