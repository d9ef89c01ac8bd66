"""What every REST answer of the stand-in goes through: auth, injected failures, rate limit,
ETags, pagination, and the record of calls tests read back.

Follows docs.github.com/rest "Authenticating to the REST API" (401 Bad credentials),
"Rate limits for the REST API" (`x-ratelimit-*` headers, 403 when exhausted),
"Best practices" (conditional requests: ETag / If-None-Match -> 304 costs no rate limit)
and "Using pagination in the REST API" (`per_page` <= 100, `page`, the `link` header).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

RATE_LIMIT = 5000
DOCS = "https://docs.github.com/rest"
T = TypeVar("T")


def repo_of(request: Request) -> str:
    """`owner/name` from the path."""
    return f"{request.path_params['owner']}/{request.path_params['name']}"


def bearer(request: Request) -> str:
    """The token of an `Authorization: Bearer|token ...` header."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() in ("bearer", "token") else ""


@dataclass
class RestGate:
    """Auth, failures, the rate limit and the call record shared by every REST route."""

    token_ok: Callable[[str, str], bool]
    calls: list[tuple[str, str, int]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    remaining: int = RATE_LIMIT
    reset_at: float = 0.0

    def refuse(self, request: Request, repo: str) -> Response | None:
        """GitHub's refusal for this request, or None when it may proceed."""
        if not self.token_ok(bearer(request), repo):
            return self.error(request, 401, "Bad credentials")
        for failure in self.failures:
            if failure["method"] == request.method and request.url.path.endswith(failure["path"]):
                self.failures.remove(failure)
                return self.error(
                    request, failure["status"], failure["message"], failure.get("headers")
                )
        if self.remaining <= 0 and self.reset_at and time.time() < self.reset_at:
            return self.error(request, 403, "API rate limit exceeded")
        return None

    def error(
        self,
        request: Request,
        status: int,
        message: str,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> JSONResponse:
        """A GitHub error body: message, documentation_url, status (a string)."""
        body = {"message": message, "documentation_url": DOCS, "status": str(status)} | extra
        return self.json(request, status, body, headers)

    def json(
        self, request: Request, status: int, body: Any, headers: dict[str, str] | None = None
    ) -> JSONResponse:
        """A JSON answer with the rate-limit headers; it costs one request of the budget."""
        self._count()
        self.calls.append((request.method, request.url.path, status))
        limit_headers = {
            "x-ratelimit-limit": str(RATE_LIMIT),
            "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-reset": str(int(self.reset_at or time.time() + 3600)),
            "x-ratelimit-resource": "core",
            "x-github-api-version-selected": "2022-11-28",
        }
        return JSONResponse(body, status_code=status, headers=limit_headers | (headers or {}))

    def conditional(
        self, request: Request, body: Any, headers: dict[str, str] | None = None
    ) -> Response:
        """200 with an ETag, or 304 (free) when the client already has this body."""
        etag = '"' + hashlib.sha1(json.dumps(body, sort_keys=True).encode()).hexdigest() + '"'  # noqa: S324
        if request.headers.get("if-none-match") == etag:
            self.calls.append((request.method, request.url.path, 304))
            return Response(status_code=304, headers={"etag": etag})
        return self.json(request, 200, body, {"etag": etag} | (headers or {}))

    def _count(self) -> None:
        """Every answer but a 304 uses one request of the hourly budget."""
        if self.reset_at and time.time() >= self.reset_at:
            self.remaining, self.reset_at = RATE_LIMIT, 0.0
        self.remaining = max(self.remaining - 1, 0)


def page_of(request: Request, items: Sequence[T]) -> tuple[list[T], dict[str, str]]:
    """One page of `items` (`per_page` default 30, at most 100) and its `link` header."""
    per_page = min(max(_int(request.query_params.get("per_page"), 30), 1), 100)
    page = max(_int(request.query_params.get("page"), 1), 1)
    last = max((len(items) + per_page - 1) // per_page, 1)
    links = []
    for rel, number in (("prev", page - 1), ("next", page + 1), ("first", 1), ("last", last)):
        if 1 <= number <= last and (
            (rel in ("first", "last") and page != number) or rel in ("prev", "next")
        ):
            url = request.url.include_query_params(page=number, per_page=per_page)
            links.append(f'<{url}>; rel="{rel}"')
    chunk = list(items[(page - 1) * per_page : page * per_page])
    return chunk, ({"link": ", ".join(links)} if links else {})


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default
