"""The ``litellm`` runtime: Anthropic, Google, Bedrock, Together, Groq, Mistral and every
other provider LiteLLM reaches, one model per alias with its own key.

An optional extra (``pip install 'ttc-orchestrator[litellm]'``): without it the runtime is
still registered, so a recipe that names it fails validation with that hint, and
``ttc plugins`` lists this plugin as unavailable (``ttc.plugin_system.BUILTIN_EXTRAS``).
"""

from __future__ import annotations

from collections.abc import Callable

from ttc.plugin_system import hookimpl

from .runtime import LiteLLMOptions, LiteLLMRuntime

__all__ = ["LiteLLMOptions", "LiteLLMRuntime"]


@hookimpl
def ttc_register_runtimes(register: Callable[[type], None]) -> None:
    register(LiteLLMRuntime)
