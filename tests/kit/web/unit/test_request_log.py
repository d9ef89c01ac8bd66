"""Request logs: one line per person's request, none at info level per delivered message."""

from __future__ import annotations

import logging

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Response

from dursor_kit.logs import configure_logging
from dursor_kit.web.middleware import RequestLog

router = APIRouter()


@router.post("/dapr/run-events")
async def delivered() -> dict[str, str]:
    """A pub/sub delivery that succeeds."""
    return {"status": "SUCCESS"}


@router.post("/dapr/broken")
async def broken() -> Response:
    """A pub/sub delivery that fails."""
    return Response(status_code=500)


@router.get("/dapr/config")
async def no_config() -> Response:
    """The sidecar's start-up probe of an app without a programmatic config."""
    return Response(status_code=404)


@router.get("/v1/me")
async def me() -> dict[str, str]:
    """A person's request."""
    return {"username": "dev"}


@router.get("/v1/broken")
async def failing() -> Response:
    """A person's request the app fails."""
    return Response(status_code=503)


async def logged_levels(
    caplog: pytest.LogCaptureFixture, calls: list[tuple[str, str]], behind_edge: bool = False
) -> dict[str, int]:
    """The level of the request line each call got, by path."""
    configure_logging("test", "debug", "json")
    logging.getLogger().addHandler(caplog.handler)
    app = FastAPI()
    app.include_router(router)
    app.add_middleware(RequestLog, behind_edge=behind_edge)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://app"
    ) as client:
        for method, path in calls:
            await client.request(method, path)
    return {
        record.msg["path"]: record.levelno
        for record in caplog.records
        if isinstance(record.msg, dict) and record.msg.get("event") == "request"
    }


async def test_deliveries_log_at_debug_unless_the_app_failed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls = [
        ("POST", "/dapr/run-events"),
        ("POST", "/dapr/broken"),
        ("GET", "/dapr/config"),
        ("GET", "/v1/me"),
    ]
    assert await logged_levels(caplog, calls) == {
        "/dapr/run-events": logging.DEBUG,
        "/dapr/broken": logging.WARNING,
        "/dapr/config": logging.DEBUG,
        "/v1/me": logging.INFO,
    }


async def test_behind_the_edge_public_requests_log_at_debug_unless_the_app_failed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls = [("GET", "/v1/me"), ("GET", "/v1/broken"), ("POST", "/dapr/run-events")]
    # The gateway logged these at info already, with the same trace id.
    assert await logged_levels(caplog, calls, behind_edge=True) == {
        "/v1/me": logging.DEBUG,
        "/v1/broken": logging.WARNING,
        "/dapr/run-events": logging.DEBUG,
    }
