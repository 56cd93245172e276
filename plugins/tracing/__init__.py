"""OpenTelemetry tracing (extra ``otel``): one span per run, stage, component and model
call, with tokens, cached tokens, scores and retries as attributes, exported through the
standard OTLP settings (``OTEL_EXPORTER_OTLP_ENDPOINT`` …; see ``provider``).

Off unless something asks for it: an OTLP endpoint (or ``OTEL_TRACES_EXPORTER``) in the
environment, a tracer provider the application set, or ``configure(provider)`` in code.
Without the extra, ``ttc plugins`` lists it as unavailable with the install hint
(``ttc.plugin_system.BUILTIN_EXTRAS``).
"""

from __future__ import annotations

from typing import Any

from ttc.plugin_system import hookimpl

from .provider import configure, tracer
from .spans import RunTracer

__all__ = ["RunTracer", "configure"]

_tracers: dict[int, RunTracer] = {}


def _active() -> RunTracer | None:
    """The span maker for the current tracer (a new one after ``configure``)."""
    current = tracer()
    if current is None:
        return None
    made = _tracers.get(id(current))
    if made is None:
        _tracers.clear()
        made = _tracers[id(current)] = RunTracer(current)
    return made


@hookimpl
def ttc_run_started(run: Any) -> None:
    active = _active()
    if active is not None:
        active.run_started(run)


@hookimpl
def ttc_model_called(run: Any, call: Any) -> None:
    active = _active()
    if active is not None:
        active.model_called(run, call)


@hookimpl
def ttc_stage_finished(run: Any, stage: Any) -> None:
    active = _active()
    if active is not None:
        active.stage_finished(run, stage)


@hookimpl
def ttc_run_finished(run: Any, result: Any) -> None:
    active = _active()
    if active is not None:
        active.run_finished(run, result)
