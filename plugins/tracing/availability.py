"""Whether the OpenTelemetry SDK is installed, found without importing it."""

from __future__ import annotations

import importlib.util

INSTALL = "pip install 'ttc-orchestrator[otel]'"


def missing() -> str | None:
    """None when the SDK and the OTLP exporter can be imported, else what to install."""
    for module in ("opentelemetry.sdk", "opentelemetry.exporter.otlp"):
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            return f"the OpenTelemetry SDK is not installed ({module}): {INSTALL}"
    return None
