"""The public REST surface: the route table's operations are proxied to their service."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from dursor_kit.auth.verifier import bearer_token
from dursor_kit.errors import ProblemError
from dursor_kit.web.problems import problem_responses
from dursor_kit.web.security import Admin
from events_gateway.edge.proxy import forward
from events_gateway.edge.rate_limit import RateLimiter
from events_gateway.edge.request_target import segments_of
from events_gateway.edge.route_table import RouteTable

router = APIRouter()
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


@router.get("/v1/gateway/metrics", tags=["gateway"], responses=problem_responses(401, 403))
async def gateway_metrics(request: Request, _: Admin) -> dict[str, int]:
    """This replica's stream metrics (open streams, delivered, replayed, dropped)."""
    snapshot: dict[str, int] = request.app.state.metrics.snapshot()
    return snapshot


def client_address(request: Request) -> str:
    """The caller's address: the peer, or the client a trusted proxy names."""
    return request.client.host if request.client else "unknown"


@router.api_route("/v1/{path:path}", methods=METHODS, include_in_schema=False)
async def proxy(request: Request) -> Response:
    """Match the route table, verify the caller at the edge, then hand the request on."""
    table: RouteTable = request.app.state.route_table
    match = table.match(request.method, segments_of(request.scope))
    if match is None:
        raise ProblemError(404, "not-found", "Not Found", "no operation has this path")
    limiter: RateLimiter = request.app.state.rate_limiter
    if match.operation.public:
        await limiter.take(f"ip:{client_address(request)}")
    else:
        principal = await request.app.state.verifier.verify(
            bearer_token(request.headers.get("authorization"))
        )
        await limiter.take(principal.owner_key)
    return await forward(request, match, request.app.state.sidecar_pool)
