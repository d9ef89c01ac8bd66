"""What makes a GitHub delivery trustworthy and new: its signature, and its id unseen.

The secret is re-read from the secret store when a signature does not verify (at most
once per refresh interval), so rotating it needs no restart: put the new secret in the
store, then in GitHub's webhook settings. Delivery ids are claimed first-write in the
state store, shared by every replica, for longer than GitHub offers redelivery, so a
replayed delivery does nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable

from dursor_kit.errors import ProblemError
from dursor_kit.sidecar import Sidecar, SidecarError

STATE_STORE = "statestore"


def signature_ok(secret: bytes, body: bytes, header: str | None) -> bool:
    """GitHub's `X-Hub-Signature-256`: HMAC-SHA256 of the raw body, compared in constant time."""
    if not header or not header.startswith("sha256="):
        return False
    expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header)


def unavailable(detail: str) -> ProblemError:
    """503: the secret or the state store cannot be reached."""
    return ProblemError(503, "webhooks-unavailable", "Service Unavailable", detail)


class WebhookSecret:
    """The shared secret GitHub signs with, re-read on a failed signature (rotation)."""

    def __init__(self, read: Callable[[], Awaitable[str]], refresh_seconds: float) -> None:
        self._read = read
        self._refresh_seconds = refresh_seconds
        self._secret: bytes | None = None
        self._read_at = float("-inf")
        self._lock = asyncio.Lock()

    async def verify(self, body: bytes, header: str | None) -> bool:
        """True when the body is signed with the current secret (re-read once if due)."""
        seen = self._read_at
        if signature_ok(await self._current(), body, header):
            return True
        async with self._lock:
            due = time.monotonic() - self._read_at >= self._refresh_seconds
            if self._read_at == seen and due:
                await self._load()
        return signature_ok(await self._current(), body, header)

    async def _current(self) -> bytes:
        if self._secret is None:
            async with self._lock:
                if self._secret is None:
                    await self._load()
        assert self._secret is not None
        return self._secret

    async def _load(self) -> None:
        self._read_at = time.monotonic()
        try:
            self._secret = (await self._read()).encode()
        except SidecarError as exc:
            if self._secret is None:
                raise unavailable("the webhook secret is not configured") from exc


class Deliveries:
    """Delivery ids already taken, in the state store for `ttl_seconds`."""

    def __init__(self, sidecar: Sidecar, ttl_seconds: int) -> None:
        self._sidecar = sidecar
        self._ttl = ttl_seconds

    async def claim(self, delivery: str) -> bool:
        """True for the first claim of this delivery id; False for a replay."""
        try:
            return await self._sidecar.claim_state(
                STATE_STORE, _key(delivery), {"at": time.time()}, self._ttl
            )
        except SidecarError as exc:
            raise unavailable("deliveries cannot be deduplicated right now") from exc

    async def release(self, delivery: str) -> None:
        """Forget a claim whose delivery was not applied, so GitHub's redelivery is."""
        # On failure the claim expires with its TTL; a redelivery before then is refused.
        with contextlib.suppress(SidecarError):
            await self._sidecar.delete_state(STATE_STORE, _key(delivery))


def _key(delivery: str) -> str:
    # Hashed: the id is GitHub's GUID, but a key must never carry arbitrary characters.
    return "github-delivery-" + hashlib.sha256(delivery.encode()).hexdigest()[:40]
