"""REST passthrough: the table's operations, sent to run-api or auth by Dapr service invocation.

Status, body and the headers a client needs (problem+json, Retry-After, Location …) come
back unchanged; the caller's bearer token travels on, and every service verifies it again.
What goes out is rebuilt from the matched operation: its path from the template and the
parsed ids, its query from the parameters the operation declares, a fixed set of headers.
"""

from __future__ import annotations

import structlog
from fastapi import Request, Response

from dursor_kit.errors import ProblemError
from dursor_kit.sidecar import Sidecar, SidecarError
from dursor_kit.web.problems import bad_request
from events_gateway.edge.route_table import Match

log = structlog.get_logger(__name__)

REQUEST_HEADERS = (
    "authorization",
    "content-type",
    "accept",
    "idempotency-key",
    "if-none-match",
    "if-match",
    "x-request-id",
)
RESPONSE_HEADERS = (
    "content-type",
    "retry-after",
    "location",
    "www-authenticate",
    "etag",
    "link",
    "cache-control",
    "x-request-id",
)


async def forward(request: Request, match: Match, sidecar: Sidecar, timeout: float) -> Response:
    """Send the matched operation to its app through the sidecar and relay the answer."""
    operation = match.operation
    headers = {k: v for k, v in request.headers.items() if k in REQUEST_HEADERS}
    if not all(v.isascii() for v in headers.values()):
        raise bad_request("invalid-header", "forwarded header values must be ASCII")
    query = [(k, v) for k, v in request.query_params.multi_items() if k in operation.query]
    try:
        upstream = await sidecar.invoke(
            operation.app_id,
            operation.method,
            match.upstream_path(),
            headers=headers,
            params=query,
            content=await request.body(),
            timeout=timeout,
        )
    except SidecarError as exc:
        log.error("upstream unreachable", app_id=operation.app_id, error=str(exc))
        raise _unavailable(operation.app_id) from exc
    if _is_dapr_error(upstream.status_code, upstream.headers):
        log.error(
            "dapr could not reach upstream", app_id=operation.app_id, body=upstream.text[:300]
        )
        raise _unavailable(operation.app_id)
    kept = {k: v for k, v in upstream.headers.items() if k.lower() in RESPONSE_HEADERS}
    return Response(upstream.content, status_code=upstream.status_code, headers=kept)


def _is_dapr_error(status: int, headers: object) -> bool:
    # Dapr's own failures (app not found, app channel down) come as 500 with a Dapr JSON error.
    content_type = getattr(headers, "get", lambda *_: "")("content-type", "")
    return status == 500 and "problem+json" not in content_type


def _unavailable(app_id: str) -> ProblemError:
    return ProblemError(
        503,
        "upstream-unavailable",
        "Service Unavailable",
        f"{app_id} is not reachable right now",
        headers={"Retry-After": "5"},
    )
