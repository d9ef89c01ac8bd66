"""What every service's FastAPI app has: health, problem+json, limits, auth, telemetry."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.telemetry import TelemetryConfig
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from dursor_kit.sidecar import Sidecar
from dursor_kit.telemetry import instrument_app
from dursor_kit.web.edge_answers import declare_edge_answers
from dursor_kit.web.middleware import BodySizeLimit, RequestLog
from dursor_kit.web.problems import install_problem_handlers

ReadinessCheck = Callable[[], Awaitable[bool]]
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def database_check(engine: AsyncEngine) -> ReadinessCheck:
    """Ready when a trivial query answers."""

    async def check() -> bool:
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:  # any failure means not ready
            return False
        return True

    return check


def sidecar_check(sidecar: Sidecar) -> ReadinessCheck:
    """Ready when the sidecar's components are up."""
    return sidecar.is_ready


health = APIRouter(tags=["health"])


@health.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    """Always OK while the event loop runs."""
    return {"status": "ok"}


@health.get("/readyz", summary="Readiness: database and sidecar answer")
async def readyz(request: Request) -> JSONResponse:
    """503 until every dependency the service needs answers."""
    checks: dict[str, ReadinessCheck] = getattr(request.app.state, "readiness", {})
    results = {name: await check() for name, check in checks.items()}
    ready = bool(results) and all(results.values())
    return JSONResponse({"ready": ready, "checks": results}, status_code=200 if ready else 503)


def create_service_app(
    title: str,
    lifespan: Lifespan,
    routers: list[APIRouter],
    max_body_bytes: int = 1_048_576,
    description: str = "",
    app_api_token: str | None = None,
    behind_edge: bool = True,
) -> FastAPI:
    """A FastAPI app with the behaviour every dursor service shares.

    `behind_edge`: every public request reaches the app through the gateway, which
    logged it already (the gateway itself passes False).
    """
    # OpenTelemetry's FastAPI instrumentation traces each request (`instrument_app`);
    # FastAPI's own telemetry stays off, so no request checks for it on the way.
    native_telemetry_off = TelemetryConfig(tracing=False, metrics=False, logs=False)
    app = FastAPI(
        title=title,
        description=description,
        version="1.0.0",
        lifespan=lifespan,
        telemetry=native_telemetry_off,
    )
    app.state.app_api_token = app_api_token
    install_problem_handlers(app)
    app.include_router(health)
    for router in routers:
        app.include_router(router)
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)
    app.add_middleware(RequestLog, behind_edge=behind_edge)
    instrument_app(app)
    declare_edge_answers(app)
    return app


async def no_lifespan(_: FastAPI) -> AsyncIterator[None]:
    """A lifespan that owns nothing (tests of routers in isolation)."""
    yield
