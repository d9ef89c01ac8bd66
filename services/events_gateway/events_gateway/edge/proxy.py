"""REST passthrough: the table's operations, sent to run-api or auth by Dapr service invocation.

Status, body and the headers a client needs (problem+json, Retry-After, Location …) come
back unchanged; the caller's bearer token travels on, and every service verifies it again.
What goes out is rebuilt from the matched operation: its path from the template and the
parsed ids, its query from the parameters the operation declares, a fixed set of headers.
Bodies pass through as bytes in both directions, never parsed: the request's as the
client sent it (still counted by the body limit), the answer's chunk by chunk as the
sidecar sends it, over a pool of keep-alive connections to the sidecar (`SidecarPool`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import structlog
from fastapi import Request, Response
from opentelemetry import propagate
from starlette.types import Receive, Scope, Send

from dursor_kit.errors import ProblemError
from dursor_kit.web.problems import bad_request
from events_gateway.edge.route_table import Match
from events_gateway.edge.sidecar_pool import SidecarPool

log = structlog.get_logger(__name__)

REQUEST_HEADERS = frozenset(
    {
        "authorization",
        "content-type",
        "content-length",
        "accept",
        "idempotency-key",
        "if-none-match",
        "if-match",
        "x-request-id",
    }
)
RESPONSE_HEADERS = frozenset(
    {
        "content-type",
        "content-length",
        "retry-after",
        "location",
        "www-authenticate",
        "etag",
        "link",
        "cache-control",
        "x-request-id",
    }
)


async def forward(request: Request, match: Match, pool: SidecarPool) -> Response:
    """Send the matched operation to its app through the sidecar and relay the answer."""
    operation = match.operation
    headers = forwarded_headers(request.scope)
    propagate.inject(headers)  # the sidecar and the app continue this request's trace
    query = [(k, v) for k, v in request.query_params.multi_items() if k in operation.query]
    body = await request_body(request)
    try:
        upstream = await pool.invoke(
            operation.app_id, operation.method, match.upstream_path(), headers, query, body
        )
    except (aiohttp.ClientError, TimeoutError) as exc:
        if (refused := _refusal_behind(exc)) is not None:
            raise refused from None  # the body limit stopped the body half-way: a 413
        log.error("upstream unreachable", app_id=operation.app_id, error=repr(exc))
        raise _unavailable(operation.app_id) from exc
    if _is_dapr_error(upstream):
        text = (await upstream.read())[:300].decode("utf-8", "replace")
        upstream.release()
        log.error("dapr could not reach upstream", app_id=operation.app_id, body=text)
        raise _unavailable(operation.app_id)
    return RelayedResponse(upstream)


def forwarded_headers(scope: Scope) -> dict[str, str]:
    """The request headers the apps may see (400 when a value is not ASCII)."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1")
        if name in REQUEST_HEADERS:
            if not raw_value.isascii():
                raise bad_request("invalid-header", "forwarded header values must be ASCII")
            headers[name] = raw_value.decode("ascii")
    return headers


async def request_body(request: Request) -> bytes | AsyncIterator[bytes]:
    """The body as bytes when the server had it in one piece, else its chunks as they come.

    The chunks come through the body limit's counter, so an oversized body still ends
    in a 413 (the half-sent upstream request is dropped with its connection).
    """
    receive = request.receive
    first = await receive()
    if not first.get("more_body", False):
        return bytes(first.get("body", b""))
    return _rest_of_body(bytes(first.get("body", b"")), receive)


async def _rest_of_body(first: bytes, receive: Receive) -> AsyncIterator[bytes]:
    yield first
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return
        yield bytes(message.get("body", b""))
        if not message.get("more_body", False):
            return


class RelayedResponse(Response):
    """The sidecar's answer: status, the allowed headers, then the body as it arrives."""

    def __init__(self, upstream: aiohttp.ClientResponse) -> None:
        self._upstream = upstream
        self.status_code = upstream.status
        self.background = None
        self.raw_headers = [
            (name.lower(), value)
            for name, value in upstream.raw_headers
            if name.lower().decode("latin-1") in RESPONSE_HEADERS
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Relay the body chunk by chunk; the pooled connection is released at the end."""
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": self.status_code,
                    "headers": self.raw_headers,
                }
            )
            content = self._upstream.content
            chunk = await content.readany()
            while True:
                # One chunk ahead, so the last one carries `more_body: False` itself.
                following = await content.readany() if chunk else b""
                await send(
                    {"type": "http.response.body", "body": chunk, "more_body": bool(following)}
                )
                if not following:
                    return
                chunk = following
        finally:
            self._upstream.release()


def _refusal_behind(exc: BaseException) -> ProblemError | None:
    """The problem our own body reader raised, if that is what failed the upstream call."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ProblemError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _is_dapr_error(upstream: aiohttp.ClientResponse) -> bool:
    # Dapr's own failures (app not found, app channel down) come as 500 with a Dapr JSON error.
    content_type = upstream.headers.get("content-type", "")
    return upstream.status == 500 and "problem+json" not in content_type


def _unavailable(app_id: str) -> ProblemError:
    return ProblemError(
        503,
        "upstream-unavailable",
        "Service Unavailable",
        f"{app_id} is not reachable right now",
        headers={"Retry-After": "5"},
    )
