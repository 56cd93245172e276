"""Which tracer provider spans go to: one set in code (``configure``), else the process's
global one (an application or ``opentelemetry-instrument`` set it), else one built from the
standard OTLP settings in the environment, else none (tracing off, nothing imported).

The environment is OpenTelemetry's own: ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``), ``OTEL_EXPORTER_OTLP_PROTOCOL`` (``http/protobuf``,
the default, or ``grpc``), ``OTEL_EXPORTER_OTLP_HEADERS``, ``OTEL_SERVICE_NAME`` (default
``ttc``), ``OTEL_RESOURCE_ATTRIBUTES``; ``OTEL_TRACES_EXPORTER=console`` prints spans;
``OTEL_SDK_DISABLED=true`` turns tracing off.
"""

from __future__ import annotations

import atexit
import os
import threading
from typing import Any

_lock = threading.Lock()
_chosen: dict[str, Any] = {}


def configure(tracer_provider: Any | None) -> None:
    """Send ttc's spans to ``tracer_provider`` (None: back to the automatic choice)."""
    with _lock:
        _chosen.clear()
        if tracer_provider is not None:
            _chosen["provider"] = tracer_provider


def tracer() -> Any | None:
    """The tracer ttc's spans are made with, or None when tracing is off."""
    with _lock:
        if "tracer" not in _chosen:
            provider = _chosen.get("provider") or _automatic()
            _chosen["tracer"] = None if provider is None else provider.get_tracer("ttc")
        return _chosen["tracer"]


def _automatic() -> Any | None:
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    try:
        from opentelemetry import trace
    except ImportError:
        return None
    current = trace.get_tracer_provider()
    if not isinstance(current, trace.ProxyTracerProvider | trace.NoOpTracerProvider):
        return current  # the application's (or opentelemetry-instrument's)
    exporter = _exporter_from_environment()
    if exporter is None:
        return None
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    service = {"service.name": os.environ.get("OTEL_SERVICE_NAME") or "ttc"}
    provider = TracerProvider(resource=Resource.create(service))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    atexit.register(provider.shutdown)  # flush what is still batched when the process ends
    return provider


def _exporter_from_environment() -> Any | None:
    wanted = os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if wanted == "none":
        return None
    if wanted == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    endpoint = (os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
                or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))
    if not endpoint and wanted != "otlp":
        return None
    protocol = (os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
                or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "http/protobuf")
    if protocol.strip() == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GrpcExporter,
        )

        return GrpcExporter()  # reads the endpoint, headers, timeout and compression itself
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()
