"""ASGI middleware every service's app has: a request body limit and one log line per request."""

from __future__ import annotations

import logging
import time

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dursor_contracts.problems import Problem
from dursor_kit.errors import ProblemError
from dursor_kit.web.problems import problem_response as _problem_response

_access_log = structlog.get_logger("dursor.access")


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
    unless the app failed (5xx); people's requests log at info. Behind the edge
    (`behind_edge`), a public `/v1/` request was logged already by the gateway, with the
    same trace id: the app logs it at debug unless it failed, which saves a rendered
    and written line per request on the hot path.
    """

    QUIET = frozenset({"/healthz", "/readyz"})
    DELIVERIES = ("/dapr/", "/ci-poll")
    PUBLIC = "/v1/"

    def __init__(self, app: ASGIApp, behind_edge: bool = False) -> None:
        self.app = app
        self.quiet_prefixes = (*self.DELIVERIES, self.PUBLIC) if behind_edge else self.DELIVERIES

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
            if scope["path"].startswith(self.quiet_prefixes):
                level = logging.DEBUG if status < 500 else logging.WARNING
            _access_log.log(
                level,
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                ms=round((time.perf_counter() - started) * 1000, 1),
            )
