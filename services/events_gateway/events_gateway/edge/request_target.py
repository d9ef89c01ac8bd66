"""Strict request targets: every path this gateway serves is plain, so anything else is refused.

The public API's paths are literals and UUIDs; none needs a percent sign, a dot segment,
a backslash, a `;` parameter or an empty segment. Checking the raw bytes the client sent
(ASGI `raw_path`, before any decoding) refuses every encoding trick at once — `%2e%2e`,
`..%2f`, `%5c`, `%252e`, `%00` — instead of chasing each after normalisation. An
absolute-form target (`GET http://host/path`) is refused too: a client of this gateway
never needs one, and a proxy that sends one is not the ingress we expect.
"""

from __future__ import annotations

import re

import structlog
from starlette.types import ASGIApp, Receive, Scope, Send

from dursor_contracts.problems import Problem
from dursor_kit.errors import ProblemError
from dursor_kit.web.problems import problem_response

log = structlog.get_logger(__name__)

MAX_PATH_BYTES = 1024
# Unreserved characters (RFC 3986) and the separator; no `%`, `;`, `\`, controls or spaces.
PLAIN_PATH = re.compile(rb"(/[A-Za-z0-9._~-]+)+|/")
DOT_SEGMENT = re.compile(rb"/\.{1,2}(?=/|$)")
PROBLEM_TYPE = "https://dursor.cloud/problems/invalid-path"


class TargetRefused(ValueError):
    """The request target is not one this gateway could serve; the reason says why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def clean_segments(raw_path: bytes) -> tuple[str, ...]:
    """The path's segments if it is plain, else `TargetRefused` (400 or 404)."""
    if not raw_path.startswith(b"/"):
        raise TargetRefused(400, "only origin-form request targets (`/path`) are accepted")
    if len(raw_path) > MAX_PATH_BYTES:
        raise TargetRefused(404, f"the path is longer than {MAX_PATH_BYTES} bytes")
    if not PLAIN_PATH.fullmatch(raw_path):
        raise TargetRefused(404, _why_not_plain(raw_path))
    if DOT_SEGMENT.search(raw_path):
        raise TargetRefused(404, "the path has a `.` or `..` segment")
    return tuple(raw_path.decode("ascii").strip("/").split("/")) if raw_path != b"/" else ()


def _why_not_plain(raw_path: bytes) -> str:
    if b"%" in raw_path:
        return "the path has percent-encoded characters; no resource needs them"
    if b"//" in raw_path or raw_path.endswith(b"/"):
        return "the path has an empty segment"
    return "the path has characters outside letters, digits and `-._~`"


def raw_path_of(scope: Scope) -> bytes:
    """The path exactly as the client sent it (the decoded one if the server gave no raw)."""
    raw = scope.get("raw_path")
    if isinstance(raw, bytes):
        return raw.split(b"?", 1)[0]
    path: str = scope.get("path", "")
    return path.encode("utf-8", "surrogateescape")


def segments_of(scope: Scope) -> tuple[str, ...]:
    """The request's clean path segments, or the problem that refuses it."""
    try:
        return clean_segments(raw_path_of(scope))
    except TargetRefused as refused:
        title = _title(refused)
        raise ProblemError(refused.status, "invalid-path", title, refused.reason) from None


def _title(refused: TargetRefused) -> str:
    return "Bad Request" if refused.status == 400 else "Not Found"


class RequestTargetGuard:
    """Refuse unclean targets with a problem+json answer before anything else sees them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_path = raw_path_of(scope)
        try:
            clean_segments(raw_path)
        except TargetRefused as refused:
            log.warning(
                "request target refused",
                method=scope.get("method"),
                path=raw_path[:200].decode("ascii", "backslashreplace"),
                reason=refused.reason,
            )
            problem = Problem(
                type=PROBLEM_TYPE,
                title=_title(refused),
                status=refused.status,
                detail=refused.reason,
            )
            await problem_response(problem)(scope, receive, send)
            return
        await self.app(scope, receive, send)
