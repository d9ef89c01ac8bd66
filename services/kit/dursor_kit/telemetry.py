"""OpenTelemetry traces and metrics: Azure Monitor if configured, else OTLP, a file or the console.

Every span's URL attributes lose the values of credential-like query parameters before
any exporter sees them: as a span starts (`RedactingSpanProcessor`, client spans), and
again in the server request hook, because the ASGI middleware sets its attributes a
second time after the start.
"""

from __future__ import annotations

import os
from typing import IO, Any

from fastapi import FastAPI
from opentelemetry import context, metrics, propagate, trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, Sampler, TraceIdRatioBased

from dursor_kit.redaction import redact_query, redact_url

AZURE_MONITOR_ENV = "APPLICATIONINSIGHTS_CONNECTION_STRING"
OTLP_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"
CONSOLE_ENV = "DURSOR_OTEL_CONSOLE"
# One JSON span per line appended to this file (tests scan exported spans for credentials).
SPANS_FILE_ENV = "DURSOR_OTEL_SPANS_FILE"
URL_ATTRIBUTES = ("http.url", "url.full", "http.target")
QUERY_ATTRIBUTES = ("url.query",)

_configured = False


def redact_span_urls(span: trace.Span) -> None:
    """Replace secret query values in the span's URL attributes."""
    attributes = getattr(span, "attributes", None) or {}
    for name in URL_ATTRIBUTES + QUERY_ATTRIBUTES:
        value = attributes.get(name)
        if isinstance(value, str):
            redacted = redact_query(value) if name in QUERY_ATTRIBUTES else redact_url(value)
            if redacted != value:
                span.set_attribute(name, redacted)


class RedactingSpanProcessor(SpanProcessor):
    """Replaces secret query values in a span's URL attributes as the span starts."""

    def on_start(self, span: Span, parent_context: context.Context | None = None) -> None:
        """Rewrite the URL attributes the instrumentation set when it started the span."""
        redact_span_urls(span)

    def on_end(self, span: ReadableSpan) -> None:
        """Nothing to do once the span has ended."""


def exporter_kind() -> str:
    """Which exporter the environment asks for: azure, otlp, file, console or none."""
    if os.environ.get(AZURE_MONITOR_ENV):
        return "azure"
    if os.environ.get(OTLP_ENV):
        return "otlp"
    if os.environ.get(SPANS_FILE_ENV):
        return "file"
    if os.environ.get(CONSOLE_ENV) == "1":
        return "console"
    return "none"


def _span_exporter(kind: str) -> SpanExporter | None:
    if kind == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    if kind == "file":
        out: IO[str] = open(os.environ[SPANS_FILE_ENV], "a", encoding="utf-8")  # noqa: SIM115 - open for the process's life
        return ConsoleSpanExporter(out=out, formatter=lambda span: span.to_json(indent=None) + "\n")
    if kind == "console":
        return ConsoleSpanExporter()
    return None


def _metric_reader(kind: str) -> MetricReader | None:
    if kind == "otlp":
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        return PeriodicExportingMetricReader(OTLPMetricExporter())
    if kind == "console":
        return PeriodicExportingMetricReader(ConsoleMetricExporter(), 60_000)
    return None


def sampler(ratio: float) -> Sampler:
    """Parent-based: a request whose caller sampled (or dropped) its trace follows that
    decision, so a trace is whole or absent across the hops; new traces are kept at `ratio`."""
    return ParentBased(TraceIdRatioBased(ratio))


def configure_telemetry(app_id: str, sample_ratio: float = 1.0) -> None:
    """Install tracer and meter providers once per process; W3C propagation is the default.

    Spans not sampled cost almost nothing (no attributes, no export): a busy deployment
    lowers `sample_ratio` (`DURSOR_OTEL_SAMPLE_RATIO`) instead of turning tracing off.
    """
    global _configured  # noqa: PLW0603 - providers are process-wide by OpenTelemetry's design
    if _configured:
        return
    _configured = True
    kind = exporter_kind()
    if kind == "azure":
        from azure.monitor.opentelemetry import configure_azure_monitor

        configure_azure_monitor(
            resource=Resource.create({"service.name": app_id}),
            span_processors=[RedactingSpanProcessor()],
            sampling_ratio=sample_ratio,
        )
        return
    resource = Resource.create({"service.name": app_id})
    tracer_provider = TracerProvider(resource=resource, sampler=sampler(sample_ratio))
    tracer_provider.add_span_processor(RedactingSpanProcessor())
    if exporter := _span_exporter(kind):
        tracer_provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(tracer_provider)
    readers = [reader] if (reader := _metric_reader(kind)) else []
    metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=readers))
    HTTPXClientInstrumentor().instrument()


def instrument_app(
    app: FastAPI,
    tracer_provider: trace.TracerProvider | None = None,
    meter_provider: metrics.MeterProvider | None = None,
) -> None:
    """Trace every request; the sidecar's `traceparent` header continues the caller's trace."""
    # No span per ASGI send/receive: an SSE stream sends for every frame for hours, and
    # those spans cost CPU per frame and memory per open stream while saying nothing.
    FastAPIInstrumentor.instrument_app(
        app,
        excluded_urls="healthz,readyz",
        exclude_spans=["send", "receive"],
        server_request_hook=_redact_server_span,
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
    )


def _redact_server_span(span: trace.Span, _: dict[str, Any]) -> None:
    redact_span_urls(span)


def current_traceparent() -> str | None:
    """The W3C `traceparent` of the current span, to carry a trace across the outbox."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")
