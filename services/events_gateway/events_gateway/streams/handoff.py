"""The ASGI entry in front of the gateway's app: a stream leaves the middleware chain once set up.

An SSE stream lives for minutes or hours. Served wholly inside the app, each open stream
keeps the coroutine frames of the whole middleware chain (telemetry and its server span,
error handlers, CORS, request target, request log, body limit, routing) for all that time.
Here a stream request goes through the whole chain like any other request, so it meets
exactly the same checks (front door, request target, CORS, token, role, rate limit,
ticket) and gets the same problem+json answers, log line and span. Once its headers and
first frame are sent, the stream's response registers itself in the request's scope and
returns; the chain unwinds (its span ends, its log line is written), and the stream's long
life (replay, live events, pings) goes on here with the server's own `send` and `receive`.
"""

from __future__ import annotations

from typing import Protocol

from starlette.types import ASGIApp, Receive, Scope, Send

# The scope key under which a stream's response registers for its long life.
HANDOFF = "dursor.stream_handoff"


class HandedOff(Protocol):
    """A response whose headers went out through the chain and whose body goes on here."""

    async def run(self, receive: Receive, send: Send) -> None:
        """Send the rest of the response with the server's own channel."""

    def abandon(self) -> None:
        """Let go of what the response holds when the chain failed after the hand-off."""


class StreamHandoff:
    """Runs every request through `app`, then the long life of a stream it handed off."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        handed_off: list[HandedOff] = []
        first_added = len(scope)  # a dict keeps its order: what the chain adds comes after
        scope[HANDOFF] = handed_off
        try:
            await self.app(scope, receive, send)
        except BaseException:
            for response in handed_off:
                response.abandon()
            raise
        if handed_off:
            # The server keeps the scope for the connection's life: drop what the chain put
            # in it (routing, FastAPI's exit stacks, state), which a stream no longer needs.
            for key in list(scope)[first_added:]:
                del scope[key]
        for response in handed_off:
            await response.run(receive, send)
