"""What every service's FastAPI app has: health, problem+json, limits, auth, telemetry."""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dursor_contracts.auth import Principal, Role, TokenVerifier, forbidden, unauthorized
from dursor_contracts.problems import Problem, ProblemError, install_problem_handlers
from dursor_contracts.problems import problem_response as _problem_response
from dursor_contracts.sidecar import Sidecar
from dursor_contracts.telemetry import instrument_app

ReadinessCheck = Callable[[], Awaitable[bool]]
_access_log = structlog.get_logger("dursor.access")
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


class BodySizeLimit:
    """Refuse request bodies over `max_bytes` with a 413 before the app reads them."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        await self.app(scope, self._counting(receive), send)

    def _counting(self, receive: Receive) -> Receive:
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise ProblemError(413, "too-large", "Content Too Large", self._detail())
            return message

        return counted

    def _detail(self) -> str:
        return f"the request body is limited to {self.max_bytes} bytes"

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        problem = Problem(
            type="https://dursor.cloud/problems/too-large",
            title="Content Too Large",
            status=413,
            detail=self._detail(),
            instance=scope.get("path"),
        )
        await _problem_response(problem)(scope, receive, send)


class RequestLog:
    """One structured log line per request, with the trace id of its span.

    Deliveries from the sidecar (pub/sub messages, cron bindings, its start-up probes of
    `/dapr/config` and `/dapr/subscribe`) come many per run, so they log at debug level
    unless the app failed (5xx); people's requests log at info.
    """

    QUIET = frozenset({"/healthz", "/readyz"})
    DELIVERIES = ("/dapr/", "/ci-poll")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.QUIET:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording)
        finally:
            level = logging.INFO
            if scope["path"].startswith(self.DELIVERIES):
                level = logging.DEBUG if status < 500 else logging.WARNING
            _access_log.log(
                level,
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                ms=round((time.perf_counter() - started) * 1000, 1),
            )


bearer_scheme = HTTPBearer(auto_error=False, description="JWT from the auth service or Entra ID")


async def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Principal:
    """The verified caller, or a 401."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise unauthorized("a bearer token is required")
    verifier: TokenVerifier = request.app.state.verifier
    principal = await verifier.verify(credentials.credentials)
    request.state.principal = principal
    return principal


def require(role: Role) -> Any:
    """Dependency: the caller must hold `role` or a higher one."""

    async def check(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if not principal.role.allows(role):
            raise forbidden(role)
        return principal

    return Depends(check)


Viewer = Annotated[Principal, require(Role.VIEWER)]
Developer = Annotated[Principal, require(Role.DEVELOPER)]
Admin = Annotated[Principal, require(Role.ADMIN)]


SIDECAR_TOKEN_HEADER = "dapr-api-token"  # noqa: S105 - a header name


async def from_own_sidecar(request: Request) -> None:
    """Dependency of every route only Dapr calls: this app's API token, or a 401.

    The sidecar presents `dapr-api-token: <APP_API_TOKEN>` on everything it forwards
    (deliveries, invocations, bindings), so a process that reaches the app's port directly
    cannot pose as the sidecar, nor set the `dapr-caller-app-id` the route then trusts.
    An app started without a token refuses every such call (fails closed).
    """
    expected: str | None = getattr(request.app.state, "app_api_token", None)
    presented = request.headers.get(SIDECAR_TOKEN_HEADER, "").encode()
    if not expected or not hmac.compare_digest(presented, expected.encode()):
        raise ProblemError(
            401, "unauthorized", "Unauthorized", "only this app's Dapr sidecar may call this route"
        )


FromOwnSidecar = Depends(from_own_sidecar)


def sidecar_router(prefix: str = "") -> APIRouter:
    """A router for routes only this app's sidecar calls; none appears in the OpenAPI."""
    return APIRouter(prefix=prefix, include_in_schema=False, dependencies=[FromOwnSidecar])


def create_service_app(
    title: str,
    lifespan: Lifespan,
    routers: list[APIRouter],
    max_body_bytes: int = 1_048_576,
    description: str = "",
    app_api_token: str | None = None,
) -> FastAPI:
    """A FastAPI app with the behaviour every dursor service shares."""
    app = FastAPI(title=title, description=description, version="1.0.0", lifespan=lifespan)
    app.state.app_api_token = app_api_token
    install_problem_handlers(app)
    app.include_router(health)
    for router in routers:
        app.include_router(router)
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)
    app.add_middleware(RequestLog)
    instrument_app(app)
    return app


async def no_lifespan(_: FastAPI) -> AsyncIterator[None]:
    """A lifespan that owns nothing (tests of routers in isolation)."""
    yield
