"""Credentials in URLs never reach spans, metric attributes or log lines."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
import structlog
from fastapi import FastAPI
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from dursor_kit.logs import configure_logging
from dursor_kit.redaction import redact_query, redact_url
from dursor_kit.telemetry import RedactingSpanProcessor, instrument_app

SECRET = "dst_sEcReTvAlUe0123456789"
QUERY = f"ticket={SECRET}&access_token={SECRET}&Token={SECRET}&code={SECRET}&limit=5"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            f"/s?{QUERY}",
            "/s?ticket=[redacted]&access_token=[redacted]&Token=[redacted]&code=[redacted]&limit=5",
        ),
        (
            f"http://h/p?api%5Fkey={SECRET}&sig={SECRET}",
            "http://h/p?api%5Fkey=[redacted]&sig=[redacted]",
        ),
        ("http://h/p?cursor=abc&last_event_id=3", "http://h/p?cursor=abc&last_event_id=3"),
        (f"http://h/p#{SECRET}", "http://h/p#[redacted]"),
        ("http://h/p", "http://h/p"),
    ],
)
def test_secret_query_values_are_redacted(given: str, expected: str) -> None:
    assert redact_url(given) == expected
    assert redact_query("password=x;after=2") == "password=[redacted];after=2"


def providers() -> tuple[TracerProvider, InMemorySpanExporter, MeterProvider, InMemoryMetricReader]:
    """A tracer provider as configure_telemetry builds it, exporting to memory."""
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(RedactingSpanProcessor())
    spans = InMemorySpanExporter()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    return tracer_provider, spans, MeterProvider(metric_readers=[reader]), reader


async def test_server_and_client_spans_and_metrics_carry_no_secret_value() -> None:
    tracer_provider, spans, meter_provider, reader = providers()
    app = FastAPI()

    @app.get("/v1/runs/{run_id}/stream")
    async def stream(run_id: str) -> dict[str, str]:
        return {"run": run_id}

    instrument_app(app, tracer_provider, meter_provider)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway"
    ) as client:
        HTTPXClientInstrumentor.instrument_client(client, tracer_provider=tracer_provider)
        answer = await client.get(f"/v1/runs/r1/stream?{QUERY}")
    assert answer.status_code == 200
    exported = [json.loads(span.to_json()) for span in spans.get_finished_spans()]
    # The app's span (the route template) and the client's (the method).
    assert {span["name"] for span in exported} == {"GET /v1/runs/{run_id}/stream", "GET"}
    urls = [span["attributes"]["http.url"] for span in exported]
    assert all("ticket=[redacted]" in url and "limit=5" in url for url in urls), urls
    assert SECRET not in json.dumps(exported)
    metrics = reader.get_metrics_data()
    assert metrics is not None
    assert SECRET not in metrics.to_json()
    assert "http.server" in metrics.to_json()


def test_log_lines_redact_secret_keys(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("test", "info", "json")
    structlog.get_logger("t").info("opened", ticket=SECRET, token=SECRET, path="/v1/x")
    logging.getLogger().handlers[:] = []
    line = capsys.readouterr().out
    assert SECRET not in line
    fields = json.loads(line)
    assert (fields["ticket"], fields["token"], fields["path"]) == (
        "[redacted]",
        "[redacted]",
        "/v1/x",
    )
