"""`Idempotency-Key` on every POST: a retried request gets the first answer, not a second run.

The key belongs to the caller (their `owner_key`). The first request holds the key with
an advisory lock for its whole transaction, and its change and its stored response
commit together, so a crash leaves neither and a retry simply runs again. A duplicate
that arrives while the first still runs gets 409; one after it gets the stored status,
body and headers; the same key with another method, path or body gets 422. Only 2xx
answers are stored: every 4xx changed nothing, so running it again is harmless.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dursor_kit.auth.verifier import Principal, TokenVerifier, bearer_token
from dursor_kit.db.unit_of_work import Transactions, UnitOfWork
from dursor_kit.errors import ProblemError
from dursor_kit.web.problems import bad_request, problem_response
from dursor_kit.web.transactions import share_unit_of_work
from run_api.idempotency import repository as sql
from run_api.idempotency.repository import StoredResponse
from run_api.json_bodies import read_body, replaying

log = structlog.get_logger(__name__)

HEADER = "idempotency-key"
MAX_KEY_LENGTH = 255
KEY_PATTERN = re.compile(r"[\x21-\x7e]+")  # visible ASCII, no spaces
REPLAYED_HEADERS = ("content-type", "location")


def request_hash(method: str, path: str, query: bytes, body: bytes) -> str:
    """Fingerprint of a request; JSON bodies are compared by value, not by spelling."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        canonical = body
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query, canonical):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def checked_key(raw: str) -> str:
    """The key if it is 1-255 visible ASCII characters, else a 400."""
    if len(raw) > MAX_KEY_LENGTH or not KEY_PATTERN.fullmatch(raw):
        raise bad_request(
            "invalid-idempotency-key",
            f"an Idempotency-Key is 1-{MAX_KEY_LENGTH} visible ASCII characters",
            "Idempotency-Key",
        )
    return raw


@dataclass
class CapturedResponse:
    """A response the app produced, held back until its transaction has committed."""

    status: int = 500
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)

    async def record(self, message: Message) -> None:
        """ASGI `send` that keeps the response instead of sending it."""
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            self.body.extend(message.get("body", b""))

    async def replay(self, send: Send, extra: list[tuple[bytes, bytes]] | None = None) -> None:
        """Send the held response."""
        await send(
            {
                "type": "http.response.start",
                "status": self.status,
                "headers": self.headers + (extra or []),
            }
        )
        await send({"type": "http.response.body", "body": bytes(self.body)})

    def kept_headers(self) -> dict[str, str]:
        """The headers a replay repeats."""
        headers = Headers(raw=self.headers)
        return {name: headers[name] for name in REPLAYED_HEADERS if name in headers}


def _from_stored(stored: StoredResponse) -> CapturedResponse:
    body = bytearray(stored.body)
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in stored.headers.items()]
    headers.append((b"content-length", str(len(body)).encode()))
    return CapturedResponse(stored.status_code, headers, body)


def in_flight() -> ProblemError:
    """409 for a duplicate that arrives while the first request still runs."""
    return ProblemError(
        409,
        "idempotency-key-in-flight",
        "Conflict",
        "a request with this Idempotency-Key is still being processed; retry shortly",
        headers={"Retry-After": "1"},
    )


def reused() -> ProblemError:
    """422 for the same key sent with another request."""
    return ProblemError(
        422,
        "idempotency-key-reused",
        "Unprocessable Content",
        "this Idempotency-Key was already used for a different request",
    )


@dataclass(frozen=True)
class KeyedRequest:
    """A POST carrying an idempotency key, with its caller and fingerprint."""

    owner: str
    key: str
    method: str
    path: str
    fingerprint: str

    def matches(self, stored: StoredResponse) -> bool:
        """True when `stored` answered this very request."""
        return (stored.method, stored.path, stored.request_hash) == (
            self.method,
            self.path,
            self.fingerprint,
        )


class IdempotencyKeys:
    """ASGI middleware applying `Idempotency-Key` to every POST of the app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = Headers(scope=scope).get(HEADER) if scope["type"] == "http" else None
        if raw is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        try:
            await self._keyed(scope, receive, send, raw)
        except ProblemError as exc:
            await problem_response(exc.to_problem(scope["path"]), exc.headers)(scope, receive, send)

    async def _keyed(self, scope: Scope, receive: Receive, send: Send, raw: str) -> None:
        key = checked_key(raw)
        principal = await _principal(scope)
        if principal is None:  # the route answers 401 itself; nothing to remember
            await self.app(scope, receive, send)
            return
        body = await read_body(receive)
        request = KeyedRequest(
            principal.owner_key,
            key,
            scope["method"],
            scope["path"],
            request_hash(scope["method"], scope["path"], scope.get("query_string", b""), body),
        )
        response = await self._answer(scope, replaying(body, receive), request)
        await response.replay(send)

    async def _answer(
        self, scope: Scope, receive: Receive, request: KeyedRequest
    ) -> CapturedResponse:
        state = scope["app"].state
        transactions: Transactions = state.transactions
        retention = timedelta(hours=state.settings.idempotency_retention_hours)
        # One unit of work for the key and the route: the change and the stored answer
        # commit together (and the relay wakes after), or neither does.
        async with transactions.begin() as work:
            if not await sql.try_lock(work.conn, request.owner, request.key):
                raise in_flight()
            previous = await sql.stored(work.conn, request.owner, request.key, retention)
            if previous is not None:
                if not request.matches(previous):
                    raise reused()
                replayed = _from_stored(previous)
                replayed.headers.append((b"idempotent-replayed", b"true"))
                return replayed
            response = await self._run(scope, receive, work)
            if 200 <= response.status < 300:
                stored = self._stored(request, response)
                await sql.save(work.conn, request.owner, request.key, stored)
            else:
                work.discard()
        return response

    async def _run(self, scope: Scope, receive: Receive, work: UnitOfWork) -> CapturedResponse:
        response = CapturedResponse()
        share_unit_of_work(scope, work)
        await self.app(scope, receive, response.record)
        return response

    @staticmethod
    def _stored(request: KeyedRequest, response: CapturedResponse) -> StoredResponse:
        return StoredResponse(
            request.method,
            request.path,
            request.fingerprint,
            response.status,
            bytes(response.body),
            response.kept_headers(),
        )


async def _principal(scope: Scope) -> Principal | None:
    """The verified caller, or None when the token is missing or bad."""
    verifier: TokenVerifier = scope["app"].state.verifier
    try:
        token = bearer_token(Headers(scope=scope).get("authorization"))
        return await verifier.verify(token)
    except ProblemError:
        return None


async def forget_expired_keys(engine: AsyncEngine, retention: timedelta, every: float) -> None:
    """Delete keys past their retention window, forever (a background loop)."""
    while True:
        async with engine.begin() as conn:
            forgotten = await sql.purge(conn, retention)
        if forgotten:
            log.info("idempotency keys forgotten", count=forgotten)
        await asyncio.sleep(every)
