"""events-gateway: the one public entry point (REST routed by Dapr, SSE fan-out)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from redis.asyncio import Redis

from dursor_kit.runtime import service_runtime, token_verifier
from dursor_kit.secret_names import GITHUB_WEBHOOK_SECRET
from dursor_kit.web.app import create_service_app
from dursor_kit.web.edge_answers import add_edge_answers
from dursor_kit.web.subscriptions import subscription_router
from dursor_store.role_bindings import DatabaseAuthority
from events_gateway.edge import endpoints as edge_endpoints
from events_gateway.edge.front_door import FrontDoorOnly
from events_gateway.edge.public_api import public_document, route_table
from events_gateway.edge.rate_limit import RateLimiter
from events_gateway.edge.readiness import upstream_checks
from events_gateway.edge.request_target import RequestTargetGuard
from events_gateway.edge.sidecar_pool import SidecarPool
from events_gateway.metrics import GatewayMetrics
from events_gateway.settings import GatewaySettings
from events_gateway.streams import endpoints as stream_endpoints
from events_gateway.streams import subscriptions as stream_subscriptions
from events_gateway.streams.catch_up import catch_up_forever
from events_gateway.streams.hub import FanoutHub
from events_gateway.streams.janitor import GroupJanitor, sweep_forever
from events_gateway.streams.service import StreamConfig
from events_gateway.streams.tickets import StreamTickets
from events_gateway.webhooks import endpoints as webhook_endpoints
from events_gateway.webhooks.service import Deliveries, WebhookSecret


def redis_url(settings: GatewaySettings) -> str:
    """The Redis the Dapr components use (host:port, password, logical DB)."""
    password = f":{quote(settings.redis_password)}@" if settings.redis_password else ""
    return f"redis://{password}{settings.redis_host}/{settings.redis_db}"


def stream_config(settings: GatewaySettings) -> StreamConfig:
    """SSE timing and buffers from the settings."""
    return StreamConfig(
        ping_seconds=settings.sse_ping_seconds,
        retry_ms=settings.sse_retry_ms,
        max_lifetime_seconds=settings.sse_max_lifetime_seconds,
        buffer=settings.sse_client_buffer,
        replay_page=settings.sse_replay_page,
    )


def sidecar_pool(settings: GatewaySettings) -> SidecarPool:
    """The proxy's connections to this replica's sidecar."""
    token = settings.dapr_api_token.get_secret_value() if settings.dapr_api_token else None
    return SidecarPool(
        settings.dapr_http_port,
        token,
        settings.proxy_connections,
        settings.upstream_timeout_seconds,
    )


@asynccontextmanager
async def lifespan(app: FastAPI, settings: GatewaySettings) -> AsyncIterator[None]:
    """Own every client; the hub lives as long as the process."""
    async with contextlib.AsyncExitStack() as stack, service_runtime(settings) as runtime:
        metrics = GatewayMetrics()
        metrics.export()
        hub = FanoutHub(metrics)
        runtime.background.start(
            catch_up_forever(runtime.engine, hub, settings.catch_up_seconds), "catch-up"
        )
        if settings.redis_host:
            redis = Redis.from_url(redis_url(settings), decode_responses=True)
            stack.push_async_callback(redis.aclose)
            janitor = GroupJanitor(redis, settings.janitor_idle_seconds)
            runtime.background.start(
                sweep_forever(janitor, settings.janitor_interval_seconds), "group-janitor"
            )
        app.state.settings = settings
        app.state.engine = runtime.engine
        app.state.sidecar = runtime.sidecar
        app.state.sidecar_pool = await stack.enter_async_context(sidecar_pool(settings))
        app.state.hub = hub
        app.state.rate_limiter = RateLimiter(
            runtime.sidecar, settings.rate_limit_per_second, settings.rate_limit_burst
        )
        app.state.stream_tickets = StreamTickets(
            runtime.sidecar, settings.stream_ticket_ttl_seconds
        )
        app.state.metrics = metrics
        app.state.stream_config = stream_config(settings)
        app.state.verifier = token_verifier(
            settings, runtime.http, DatabaseAuthority(runtime.engine)
        )
        app.state.webhook_secret = WebhookSecret(
            partial(runtime.secret, GITHUB_WEBHOOK_SECRET), settings.webhook_secret_refresh_seconds
        )
        app.state.deliveries = Deliveries(runtime.sidecar, settings.webhook_delivery_ttl_seconds)
        app.state.readiness = runtime.readiness() | upstream_checks(runtime.sidecar)
        yield


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    """The events-gateway ASGI app."""
    settings = settings or GatewaySettings()
    programmatic = (
        [subscription_router(settings.app_id)] if settings.programmatic_subscriptions else []
    )
    app = create_service_app(
        "dursor events-gateway",
        partial(lifespan, settings=settings),
        [
            stream_endpoints.router,
            stream_subscriptions.router,
            webhook_endpoints.router,
            edge_endpoints.router,
            *programmatic,
        ],
        max_body_bytes=settings.max_body_bytes,
        description="Public REST (routed to run-api and auth by Dapr) and SSE streams.",
        app_api_token=settings.sidecar_app_token(),
        behind_edge=False,
    )
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins or [],
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=["Retry-After"],
    )
    app.add_middleware(RequestTargetGuard)
    if settings.front_door_id is not None:
        app.add_middleware(FrontDoorOnly, front_door_id=settings.front_door_id.get_secret_value())
    app.state.route_table = route_table()
    install_public_openapi(app)
    return app


def own_openapi(app: FastAPI) -> dict[str, Any]:
    """The gateway's own operations: streams, stream tickets, webhooks, metrics."""
    document = get_openapi(title=app.title, version=app.version, routes=app.routes)
    add_edge_answers(document)
    return document


def install_public_openapi(app: FastAPI) -> None:
    """`/openapi.json` and `/docs` describe the whole public API, not only this app."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = public_document(own_openapi(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
