"""The public REST surface: everything not streamed here is proxied to its service."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from dursor_contracts.auth import bearer_token
from dursor_contracts.web import Admin
from events_gateway.proxy import PUBLIC, forward
from events_gateway.rate_limit import RateLimiter

router = APIRouter()
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


@router.get("/v1/gateway/metrics", tags=["gateway"])
async def gateway_metrics(request: Request, _: Admin) -> dict[str, int]:
    """This replica's stream metrics (open streams, delivered, replayed, dropped)."""
    snapshot: dict[str, int] = request.app.state.metrics.snapshot()
    return snapshot


@router.api_route("/v1/{path:path}", methods=METHODS, include_in_schema=False)
async def proxy(request: Request) -> Response:
    """Verify the caller at the edge, then hand the request to its service."""
    limiter: RateLimiter = request.app.state.rate_limiter
    if (request.method, request.url.path) in PUBLIC:
        await limiter.take(f"ip:{request.client.host if request.client else 'unknown'}")
    else:
        principal = await request.app.state.verifier.verify(
            bearer_token(request.headers.get("authorization"))
        )
        await limiter.take(principal.owner_key)
    return await forward(
        request, request.app.state.sidecar, request.app.state.settings.upstream_timeout_seconds
    )
