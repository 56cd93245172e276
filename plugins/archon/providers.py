"""Archon's ``model_type`` → a ttc runtime that exists, with the key each provider reads.

Archon calls OpenAI, Together and Groq through OpenAI-compatible APIs, Anthropic, Google and
Bedrock through their own SDKs, vLLM in process and TGI at the URL given as the model name.
ttc reaches the first three (and self-hosted servers) with the ``openai`` runtime and the
SDK providers with the ``litellm`` runtime. Each model names the environment variable its
key is in (``api_key_env``) where the runtime's default would be another one, so a config
that mixes providers needs no gateway; keys are never written into a recipe.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Provider:
    runtime: str
    base_url: str | None = None
    """``options.base_url`` of the ``openai`` runtime; None: its default (OpenAI's)."""
    key_env: str | None = None
    """Where Archon reads the key; written as ``api_key_env`` when it is not the runtime's
    default for the model."""
    prefix: str = ""
    """LiteLLM's provider prefix for the model name (``anthropic/``)."""
    self_hosted: bool = False
    """The address is a guess at a local server: the importer says so."""


PROVIDERS: dict[str, Provider] = {
    "OpenAI_API": Provider("openai", key_env="OPENAI_API_KEY"),
    "Together_API": Provider("openai", "https://api.together.xyz/v1", "TOGETHER_API_KEY"),
    "Groq_API": Provider("openai", "https://api.groq.com/openai/v1", "GROQ_API_KEY"),
    "Anthropic_API": Provider("litellm", key_env="ANTHROPIC_API_KEY", prefix="anthropic/"),
    "Google_API": Provider("litellm", key_env="GOOGLE_API_KEY", prefix="gemini/"),
    "Bedrock_API": Provider("litellm", prefix="bedrock/"),
    "vLLM": Provider("openai", "http://localhost:8000/v1", self_hosted=True),
    "tgi": Provider("openai", "http://localhost:8080/v1", self_hosted=True),
    "sglang": Provider("sglang", "http://localhost:30000", self_hosted=True),
}
"""Every ``model_type`` Archon knows (and ``sglang``). Bedrock authenticates with the AWS
variables Archon also reads (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_REGION_NAME``), which LiteLLM reads itself."""
DEFAULT_KEY_ENV = {"openai": "OPENAI_API_KEY", "litellm": None}
"""The variable each runtime reads when a model names none (LiteLLM: the provider's own,
e.g. ``ANTHROPIC_API_KEY``, ``GEMINI_API_KEY``)."""
LITELLM_DEFAULTS = {"anthropic/": "ANTHROPIC_API_KEY", "gemini/": "GEMINI_API_KEY"}


def binding(model_type: str, model: str) -> dict[str, Any] | None:
    """The ``models:`` entry for one Archon model, or None for an unknown ``model_type``."""
    provider = PROVIDERS.get(model_type)
    if provider is None:
        return None
    if model_type == "tgi" and model.startswith(("http://", "https://")):
        # Archon's TGI: the "model" is the server's address and the model name is "tgi"
        return {"runtime": "openai", "model": "tgi", "options": {"base_url": model}}
    if provider.runtime == "sglang":
        return {"runtime": "sglang", "model": model, "options": {"url": provider.base_url}}
    spec: dict[str, Any] = {"runtime": provider.runtime, "model": provider.prefix + model}
    options: dict[str, Any] = {}
    if provider.base_url is not None:
        options["base_url"] = provider.base_url
    default = DEFAULT_KEY_ENV.get(provider.runtime) or LITELLM_DEFAULTS.get(provider.prefix)
    if provider.key_env is not None and provider.key_env != default:
        options["api_key_env"] = provider.key_env
    if options:
        spec["options"] = options
    return spec


def guessed_address(model_type: str, spec: dict[str, Any]) -> str | None:
    """The server address the importer guessed for a self-hosted model, if it did."""
    provider = PROVIDERS.get(model_type)
    if provider is None or not provider.self_hosted or spec.get("model") == "tgi":
        return None
    options = spec.get("options") or {}
    return options.get("base_url") or options.get("url")
