"""Structured JSON logs carrying the run id and the W3C trace id of the current span.

Per line, the work is kept small: an event below the logger's level is dropped before
any processor runs (the sidecar's deliveries log at debug, many per second), and lines
are rendered by orjson (one C call, no encoder objects per line).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import orjson
import structlog
from opentelemetry import trace

REDACTED = "[redacted]"
# Keys whose values never reach a log line, wherever they appear in an event.
SECRET_KEYS = frozenset(
    {
        "password",
        "token",
        "access_token",
        "api_key",
        "authorization",
        "secret",
        "private_key",
        "ticket",
        "client_secret",
    }
)


def _add_trace_ids(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event.setdefault("trace_id", format(context.trace_id, "032x"))
        event.setdefault("span_id", format(context.span_id, "016x"))
    return event


def _redact_secrets(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in event.keys() & SECRET_KEYS:
        event[key] = REDACTED
    return event


def render_json(event: Any, **_: Any) -> str:
    """One JSON line; values orjson does not know (UUIDs are native) become their text."""
    return orjson.dumps(event, default=str).decode()


def configure_logging(app_id: str, level: str = "info", fmt: str = "json") -> None:
    """Route structlog and stdlib logging to one JSON (or console) stream on stdout."""
    renderer: Any = (
        structlog.processors.JSONRenderer(serializer=render_json)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_trace_ids,
        _redact_secrets,
    ]
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "uvicorn.access", "azure"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    structlog.contextvars.bind_contextvars(app_id=app_id)
