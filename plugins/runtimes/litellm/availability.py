"""Whether LiteLLM is installed, found without importing it (the import takes seconds)."""

from __future__ import annotations

import importlib.util

INSTALL = "pip install 'ttc-orchestrator[litellm]'"


def missing() -> str | None:
    """None when LiteLLM can be imported, else what to install."""
    try:
        found = importlib.util.find_spec("litellm") is not None
    except (ImportError, ValueError):  # a finder that refuses it, a half-removed package
        found = False
    return None if found else f"the litellm package is not installed: {INSTALL}"
