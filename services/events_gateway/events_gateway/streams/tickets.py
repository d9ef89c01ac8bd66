"""Single-use stream tickets: what a browser's EventSource presents instead of a token in the URL.

A caller who may read a stream asks for a ticket for that one stream path; the ticket is
valid for `ttl` seconds (at most 60) and opens the stream once. Tickets live in the Dapr
state store under a hash of their value (the value itself is never stored or logged),
so every gateway replica can redeem any ticket, and only one can: redeeming marks the
record used with a compare-and-swap on its ETag, which a second replica holding the same
read loses. The record outlives its validity by `USED_GRACE_SECONDS`, so it cannot
expire between a replica's read and its swap and be recreated by the swap.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

import structlog

from dursor_kit.auth.verifier import Principal, Role, unauthorized
from dursor_kit.errors import ProblemError
from dursor_kit.sidecar import Sidecar, SidecarError

log = structlog.get_logger(__name__)

STATE_STORE = "statestore"
TICKET_PREFIX = "dst_"
TICKET_FORM = re.compile(r"dst_[A-Za-z0-9_-]{43}")
USED_GRACE_SECONDS = 120
REFUSED = "the stream ticket is unknown, already used, expired or for another stream"


@dataclass(frozen=True)
class Ticket:
    """A new ticket and how long it stays valid."""

    value: str
    expires_in: int


def record_key(ticket: str) -> str:
    """The state-store key of a ticket's record: a hash, never the ticket."""
    return "stream-ticket-" + hashlib.sha256(ticket.encode()).hexdigest()


class StreamTickets:
    """Issues tickets and redeems each at most once, across replicas."""

    def __init__(self, sidecar: Sidecar, ttl_seconds: int) -> None:
        self._sidecar = sidecar
        self._ttl = ttl_seconds

    async def issue(self, path: str, principal: Principal) -> Ticket:
        """A ticket that opens `path` once within the TTL, on behalf of `principal`."""
        value = TICKET_PREFIX + secrets.token_urlsafe(32)
        record = {
            "path": path,
            "principal": dataclasses.asdict(principal),
            "expires_at": time.time() + self._ttl,
        }
        try:
            await self._sidecar.save_state(
                STATE_STORE,
                record_key(value),
                record | {"used": False},
                ttl_seconds=self._ttl + USED_GRACE_SECONDS,
            )
        except SidecarError as exc:
            raise _unavailable() from exc
        return Ticket(value, self._ttl)

    async def redeem(self, ticket: str, path: str) -> Principal:
        """Who asked for a valid, unused ticket for `path`, which is used up; else a 401."""
        if not TICKET_FORM.fullmatch(ticket):
            raise unauthorized(REFUSED)
        key = record_key(ticket)
        try:
            item = await self._sidecar.get_state(STATE_STORE, key)
            record = item.value if item is not None and isinstance(item.value, dict) else None
            if item is None or item.etag is None or record is None or not _usable(record, path):
                raise unauthorized(REFUSED)
            won = await self._sidecar.save_state(
                STATE_STORE,
                key,
                record | {"used": True},
                etag=item.etag,
                ttl_seconds=USED_GRACE_SECONDS,
            )
        except SidecarError as exc:
            raise _unavailable() from exc
        # Losing the swap means another request redeemed it first; a swap this late could
        # have recreated a record that had expired meanwhile.
        if not won or time.time() > record["expires_at"] + USED_GRACE_SECONDS / 2:
            log.warning("stream ticket redeemed twice", key=key[:24])
            raise unauthorized(REFUSED)
        return _principal(record["principal"])


def _principal(fields: dict[str, Any]) -> Principal:
    return Principal(**(fields | {"role": Role(fields["role"])}))


def _usable(record: dict[str, object], path: str) -> bool:
    expires_at = record.get("expires_at")
    return (
        record.get("used") is False
        and record.get("path") == path
        and isinstance(expires_at, int | float)
        and time.time() < expires_at
    )


def _unavailable() -> ProblemError:
    return ProblemError(
        503,
        "tickets-unavailable",
        "Service Unavailable",
        "stream tickets cannot be issued or checked right now",
        headers={"Retry-After": "2"},
    )
