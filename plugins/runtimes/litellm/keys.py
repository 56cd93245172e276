"""Which environment variable holds a model's key: the model's own ``api_key_env``, else its
provider's usual one. Each model reads its own, so one recipe mixes providers freely."""

from __future__ import annotations

import os

from ttc.runtime import RequestError

PROVIDER_KEYS: dict[str, str] = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "gemini": "GEMINI_API_KEY",
    "together_ai": "TOGETHERAI_API_KEY",
    "groq": "GROQ_API_KEY",
    "mistral": "MISTRAL_API_KEY",
    "cohere": "COHERE_API_KEY",
    "deepseek": "DEEPSEEK_API_KEY",
    "fireworks_ai": "FIREWORKS_AI_API_KEY",
    "openrouter": "OPENROUTER_API_KEY",
    "xai": "XAI_API_KEY",
}
"""LiteLLM's own default variable per provider. Providers not listed (``bedrock``,
``vertex_ai``, self-hosted ones) authenticate otherwise (AWS or Google credentials, none)."""


def provider_of(model: str) -> str:
    """``anthropic`` for ``anthropic/claude-3-5-sonnet``; ``openai`` for a bare name (LiteLLM
    would also guess some bare names; a prefix is explicit)."""
    prefix, sep, _ = model.partition("/")
    return prefix if sep else "openai"


def key_variable(model: str, api_key_env: str | None) -> str | None:
    return api_key_env or PROVIDER_KEYS.get(provider_of(model))


def resolve_key(model: str, api_key_env: str | None) -> str | None:
    """The key to send, or None to let LiteLLM authenticate (AWS, Google, no key). A
    variable the recipe names explicitly must be set."""
    variable = key_variable(model, api_key_env)
    if variable is None:
        return None
    key = os.environ.get(variable)
    if not key and api_key_env:
        raise RequestError(f"model {model!r} reads its key from {api_key_env}, which is not "
                           "set: export it (keys are never written into recipes)")
    return key or None
