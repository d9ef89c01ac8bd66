"""REST passthrough: public paths routed to run-api or auth by Dapr service invocation.

Status, body and the headers a client needs (problem+json, Retry-After, Location …) come
back unchanged; the caller's bearer token travels on, and every service verifies it again.
"""

from __future__ import annotations

import re

import structlog
from fastapi import Request, Response

from dursor_contracts.problems import (
    Problem,
    ProblemError,
    bad_request,
    not_found,
    problem_response,
)
from dursor_contracts.sidecar import Sidecar, SidecarError

log = structlog.get_logger(__name__)

ROUTES: tuple[tuple[str, str], ...] = (
    ("/v1/auth/", "auth"),
    ("/v1/me", "auth"),
    ("/v1/users", "auth"),
    ("/v1/tokens", "auth"),
    ("/v1/github-app", "auth"),
    ("/v1/repos", "run-api"),
    ("/v1/tasks", "run-api"),
    ("/v1/runs", "run-api"),
    ("/v1/model-profiles", "run-api"),
    ("/v1/pull-requests", "run-api"),
)
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
# Every path of the public API is made of these (ids are UUIDs).
ROUTABLE_PATH = re.compile(r"[A-Za-z0-9/._~-]*")
# Paths anyone may call: the rest need a verified token at the edge.
PUBLIC = frozenset({("POST", "/v1/auth/token")})


def upstream_for(path: str) -> str:
    """The app id that owns `path`, or a 404."""
    if not ROUTABLE_PATH.fullmatch(path):
        # No resource has such a path; Dapr would refuse it (control characters, `%`).
        raise not_found("path", path)
    for prefix, app_id in ROUTES:
        if (
            path == prefix.rstrip("/")
            or path.startswith(prefix.rstrip("/") + "/")
            or (prefix.endswith("/") and path.startswith(prefix))
        ):
            return app_id
    raise not_found("path", path)


async def forward(request: Request, sidecar: Sidecar, timeout: float) -> Response:
    """Send the request to its service through the sidecar and relay the answer."""
    app_id = upstream_for(request.url.path)
    headers = {k: v for k, v in request.headers.items() if k in REQUEST_HEADERS}
    if not all(v.isascii() for v in headers.values()):
        raise bad_request("invalid-header", "forwarded header values must be ASCII")
    try:
        upstream = await sidecar.invoke(
            app_id,
            request.method,
            request.url.path,
            headers=headers,
            params=list(request.query_params.multi_items()),
            content=await request.body(),
            timeout=timeout,
        )
    except SidecarError as exc:
        log.error("upstream unreachable", app_id=app_id, error=str(exc))
        raise _unavailable(app_id) from exc
    if _is_dapr_error(upstream.status_code, upstream.headers):
        log.error("dapr could not reach upstream", app_id=app_id, body=upstream.text[:300])
        raise _unavailable(app_id)
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


def problem_for_unmatched(path: str) -> Response:
    """404 for a path no service owns."""
    return problem_response(Problem(title="Not Found", status=404, detail=f"no route for {path}"))
