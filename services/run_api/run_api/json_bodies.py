"""Request bodies are read whole before any route: 413 over the limit, 415 unless JSON.

Reading up front makes the body limit answer 413 for a streamed (chunked) body too;
inside a route, FastAPI would turn the limit's error into a generic 400. Bodies are
small (the limit is a few hundred KiB), so holding one in memory costs little.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dursor_kit.errors import ProblemError
from dursor_kit.web.problems import problem_response

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def is_json(content_type: str) -> bool:
    """True for `application/json` and any `application/*+json` (problem, cloudevents)."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def unsupported(content_type: str) -> ProblemError:
    """The 415 answer: what was sent and what is accepted."""
    return ProblemError(
        415,
        "unsupported-media-type",
        "Unsupported Media Type",
        f"request bodies must be application/json, not {content_type or '(none)'}",
        headers={"Accept-Post": "application/json"},
    )


class JsonBodies:
    """Read the body whole; refuse a non-empty one of another media type."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        content_type = dict(scope["headers"]).get(b"content-type", b"").decode("latin-1")
        try:
            body = await read_body(receive)
            if body and not is_json(content_type):
                raise unsupported(content_type)
        except ProblemError as exc:
            await problem_response(exc.to_problem(scope["path"]), exc.headers)(scope, receive, send)
            return
        await self.app(scope, replaying(body, receive), send)


async def read_body(receive: Receive) -> bytes:
    """The whole request body (the body limit raises its 413 from `receive`)."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ProblemError(400, "client-disconnected", "Bad Request", "the client went away")
        body.extend(message.get("body", b""))
        if not message.get("more_body"):
            return bytes(body)


def replaying(body: bytes, receive: Receive) -> Receive:
    """A receive that hands out the already-read body, then the real messages."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
