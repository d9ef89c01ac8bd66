"""OpenTelemetry traces and metrics: Azure Monitor when configured, else OTLP or the console."""

from __future__ import annotations

import os

from fastapi import FastAPI
from opentelemetry import metrics, propagate, trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

AZURE_MONITOR_ENV = "APPLICATIONINSIGHTS_CONNECTION_STRING"
OTLP_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"
CONSOLE_ENV = "DURSOR_OTEL_CONSOLE"

_configured = False


def exporter_kind() -> str:
    """Which exporter the environment asks for: azure, otlp, console or none."""
    if os.environ.get(AZURE_MONITOR_ENV):
        return "azure"
    if os.environ.get(OTLP_ENV):
        return "otlp"
    if os.environ.get(CONSOLE_ENV) == "1":
        return "console"
    return "none"


def _span_exporter(kind: str) -> SpanExporter | None:
    if kind == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
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


def configure_telemetry(app_id: str) -> None:
    """Install tracer and meter providers once per process; W3C propagation is the default."""
    global _configured  # noqa: PLW0603 - providers are process-wide by OpenTelemetry's design
    if _configured:
        return
    _configured = True
    kind = exporter_kind()
    if kind == "azure":
        from azure.monitor.opentelemetry import configure_azure_monitor

        configure_azure_monitor(resource=Resource.create({"service.name": app_id}))
        return
    resource = Resource.create({"service.name": app_id})
    tracer_provider = TracerProvider(resource=resource)
    if exporter := _span_exporter(kind):
        tracer_provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(tracer_provider)
    readers = [reader] if (reader := _metric_reader(kind)) else []
    metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=readers))
    HTTPXClientInstrumentor().instrument()


def instrument_app(app: FastAPI) -> None:
    """Trace every request; the sidecar's `traceparent` header continues the caller's trace."""
    # No span per ASGI send/receive: an SSE stream sends for every frame for hours, and
    # those spans cost CPU per frame and memory per open stream while saying nothing.
    FastAPIInstrumentor.instrument_app(
        app, excluded_urls="healthz,readyz", exclude_spans=["send", "receive"]
    )


def current_traceparent() -> str | None:
    """The W3C `traceparent` of the current span, to carry a trace across the outbox."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")
