"""OpenTelemetry tracing: one span per run, stage, component and model call, nested in that
order, with tokens, cached tokens, scores and retries as attributes; exported through the
standard OTLP settings; listed as unavailable, with the install hint, without the extra."""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import pytest
from plugin_support import ttc_without

from ttc.extras import missing
from ttc.pipeline import Pipeline
from ttc.plugins import tracing
from ttc.plugins.runtimes.scripted import ScriptedOptions, ScriptedRuntime

needs_otel = pytest.mark.skipif(missing("otel") is not None,
                                reason="the otel extra is not installed")

RECIPE = """
name: traced
task: number
models:
  m: {runtime: scripted, options: {responses: ["5", "It is 6", "5"]}}
  flaky: {runtime: scripted, model: flaky-%s, options: {responses: ["5"], fail_first: 1}}
limits: {retry_backoff_s: 0}
stages:
  - - {use: generator, samples: 2, model: m}
    - {use: generator, samples: 1, model: m}
  - {use: sample, n: 2, model: flaky}
select: {use: majority}
"""
"""``%s``: a model name of its own per test, so the failing first call is not spent by
another test on the runtime the process shares."""


@pytest.fixture
def exporter() -> Iterator:
    """Spans of the runs in the test, kept in memory (the SDK's exporter for tests)."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracing.configure(provider)
    try:
        yield memory
    finally:
        tracing.configure(None)


@needs_otel
def test_a_run_is_a_tree_of_stage_component_and_call_spans(exporter):
    result = Pipeline.from_text(RECIPE % "tree", store=False).run("2 + 3?")
    assert result.status == "succeeded"
    by_id = {}
    recorded = exporter.get_finished_spans()
    for span in recorded:
        by_id[span.context.span_id] = span
    (run,) = [s for s in recorded if s.name == "ttc run traced"]
    stages = sorted((s for s in recorded if s.name.startswith("ttc stage ")),
                    key=lambda s: s.start_time)
    assert [s.name for s in stages] == ["ttc stage 1-generator", "ttc stage 2-sample",
                                        "ttc stage select"]
    assert all(s.parent.span_id == run.context.span_id for s in stages)
    components = [s for s in recorded if s.name.startswith("ttc component ")]
    assert sorted(by_id[c.parent.span_id].name for c in components) == [
        "ttc stage 1-generator", "ttc stage 2-sample", "ttc stage select"]
    ensemble = next(c for c in components if c.attributes["ttc.component"] == "generator")
    assert ensemble.attributes["ttc.component.entries"] == 2
    calls = [s for s in recorded if s.name.startswith("generate ")]
    assert len(calls) == 4  # two generator entries, one failed attempt and its retry
    assert all(by_id[c.parent.span_id].name.startswith("ttc component") for c in calls)
    assert {s.trace_id for s in (c.context for c in recorded)} == {run.context.trace_id}
    for span in recorded:
        assert span.start_time <= span.end_time
        if span.parent is not None:
            parent = by_id[span.parent.span_id]
            assert parent.start_time <= span.start_time + 1_000_000  # ns; clocks differ


class PrefixCached(ScriptedRuntime):
    """Scripted, reporting half of every prompt as served from a prefix cache."""

    async def generate(self, request):
        return [dataclasses.replace(c, cached_tokens=c.prompt_tokens // 2)
                for c in await super().generate(request)]


@needs_otel
def test_attributes_carry_tokens_cached_tokens_scores_and_retries(exporter):
    cached = PrefixCached("m", ScriptedOptions(responses=["5", "It is 6", "5"]))
    result = Pipeline.from_text(RECIPE % "attributes", store=False, runtimes={"m": cached}).run(
        "What is 2 + 3? Answer with a number.")
    recorded = exporter.get_finished_spans()
    (run,) = [s for s in recorded if s.name == "ttc run traced"]
    total = result.ledger.total
    assert run.attributes["gen_ai.usage.input_tokens"] == total.prompt_tokens
    assert run.attributes["gen_ai.usage.output_tokens"] == total.completion_tokens
    assert run.attributes["ttc.usage.cached_tokens"] == total.cached_tokens
    assert run.attributes["ttc.answer"] == "5" and run.attributes["ttc.status"] == "succeeded"
    assert run.attributes["ttc.failed_calls"] == 1
    failed, retried = sorted((s for s in recorded if s.attributes.get("ttc.model_alias")
                              == "flaky"), key=lambda s: s.attributes["ttc.attempt"])
    assert failed.status.status_code.name == "ERROR" and not failed.attributes["ttc.retry"]
    assert retried.attributes["ttc.retry"] and retried.attributes["ttc.attempt"] == 2
    assert retried.attributes["gen_ai.request.choice.count"] == 2
    sample = next(s for s in recorded if s.name == "ttc component sample")
    assert sample.attributes["ttc.retries"] == 1 and sample.attributes["ttc.failed_calls"] == 1
    generator = next(s for s in recorded if s.name == "ttc component generator")
    assert generator.attributes["ttc.usage.cached_tokens"] == sum(
        s.attributes["ttc.usage.cached_tokens"] for s in recorded
        if s.attributes.get("ttc.model_alias") == "m") > 0
    assert total.cached_tokens == generator.attributes["ttc.usage.cached_tokens"]
    select = next(s for s in recorded if s.name == "ttc stage select")
    assert select.attributes["ttc.selection.answer"] == "5"
    assert select.attributes["ttc.selection.score_name"]
    assert len(select.attributes["ttc.selection.scores"]) == len(
        select.attributes["ttc.selection.ids"])
    assert run.attributes[f"ttc.winner.score.{select.attributes['ttc.selection.score_name']}"]


@needs_otel
def test_no_spans_and_no_cost_when_nothing_asks_for_tracing(monkeypatch):
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                 "OTEL_TRACES_EXPORTER"):
        monkeypatch.delenv(name, raising=False)
    tracing.configure(None)
    assert tracing.provider.tracer() is None


class Collector(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, str, bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        Collector.received.append((self.path, self.headers["Content-Type"], body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@needs_otel
def test_spans_reach_an_otlp_collector_through_the_standard_settings(tmp_path):
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    server = HTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    recipe = tmp_path / "traced.yaml"
    recipe.write_text(RECIPE % "otlp")
    env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{server.server_port}",
           "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_SERVICE_NAME": "ttc-test"}
    try:
        done = subprocess.run([sys.executable, "-m", "ttc", "run", str(recipe), "--input",
                               "2 + 3?", "--json", "--no-record"], env=env, capture_output=True,
                              text=True, timeout=180)
    finally:
        server.shutdown()
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["answer"] == "5"
    names, services = [], set()
    for path, content_type, body in Collector.received:
        assert path == "/v1/traces" and content_type == "application/x-protobuf"
        request = ExportTraceServiceRequest.FromString(body)
        for resource_spans in request.resource_spans:
            services |= {a.value.string_value for a in resource_spans.resource.attributes
                         if a.key == "service.name"}
            names += [s.name for scope in resource_spans.scope_spans for s in scope.spans]
    assert services == {"ttc-test"}
    assert "ttc run traced" in names and "ttc stage select" in names
    assert sum(n.startswith("generate ") for n in names) == 4


def test_without_the_extra_tracing_is_listed_unavailable_with_the_hint():
    pytest.importorskip("opentelemetry")
    rows = {r["name"]: r for r in json.loads(
        ttc_without({"opentelemetry"}, "plugins", "--json").stdout)}
    row = rows["ttc.plugins.tracing"]
    assert row["status"] == "unavailable"
    assert "pip install 'ttc-orchestrator[otel]'" in row["problems"][0]
    assert "ttc_model_called" in row["hooks"]

