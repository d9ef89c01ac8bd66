"""Per-caller rate limit: a token bucket kept in the Dapr state store, shared by replicas.

Each caller (a verified user, or the client address for public routes) has a bucket of
`burst` requests refilled at `rate` per second. Updates are compare-and-swap on the
state item's ETag, so replicas never double-spend a token. If the state store is down
the gateway lets requests through (logged): the limit protects, it must not take down.

A replica takes up to a quarter of the burst (at most 50) out of the shared bucket per
store round trip and spends those tokens locally for up to a second; what is left when
that second ends is lost, so the limit only gets stricter, never looser. A refusal is
remembered until the bucket's next token is due: no replica can give a token back, so
asking the store again before then could only say no again.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import random
import time
from dataclasses import dataclass

import structlog

from dursor_kit.errors import ProblemError
from dursor_kit.sidecar import Sidecar, SidecarError

log = structlog.get_logger(__name__)

STATE_STORE = "statestore"
CAS_ATTEMPTS = 8
# After the state store fails, requests pass unmetered this long before it is tried again:
# callers queued behind one caller's lock must not each wait out a failing store.
STORE_DOWN_SECONDS = 5.0
LEASE_SECONDS = 1.0
MAX_LEASE = 50
LEASES_KEPT = 10_000


@dataclass
class Lease:
    """Tokens this replica took from a shared bucket, to spend until `until` (monotonic)."""

    tokens: int
    until: float


@dataclass(frozen=True)
class Bucket:
    """Tokens left and when they were counted."""

    tokens: float
    at: float

    def refilled(self, now: float, rate: float, burst: float) -> Bucket:
        """The bucket after `rate` tokens per second since it was counted, capped at `burst`."""
        return Bucket(min(burst, self.tokens + (now - self.at) * rate), now)


class RateLimiter:
    """Takes one token per request or answers 429 with Retry-After."""

    def __init__(self, sidecar: Sidecar, rate_per_second: float, burst: int) -> None:
        self._sidecar = sidecar
        self._rate = rate_per_second
        self._burst = float(burst)
        # Per bucket key: its lock and how many requests hold or wait for it.
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}
        self._store_down_until = 0.0
        self._lease_size = max(1, min(MAX_LEASE, burst // 4))
        self._leases: dict[str, Lease] = {}
        # Bucket key -> (monotonic time of its next token, the Retry-After to answer).
        self._empty_until: dict[str, tuple[float, int]] = {}

    @property
    def enabled(self) -> bool:
        """A rate of 0 turns the limit off."""
        return self._rate > 0

    async def take(self, caller: str) -> None:
        """Spend one token of `caller`'s bucket, or raise a 429."""
        if not self.enabled or self._store_down():
            return
        key = "ratelimit-" + hashlib.sha256(caller.encode()).hexdigest()[:32]
        if self._settled_locally(key):
            return
        # One caller's requests take their tokens one at a time in this replica: parallel
        # requests would otherwise all read the same bucket (or all find none and create
        # it), so a burst would pass; the CAS only has to settle races between replicas.
        lock, waiting = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, waiting + 1)
        try:
            async with lock:
                if not self._settled_locally(key) and not self._store_down():
                    await self._take_with_retries(key)
        finally:
            lock, waiting = self._locks[key]
            if waiting == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, waiting - 1)

    async def _take_with_retries(self, key: str) -> None:
        try:
            for attempt in range(CAS_ATTEMPTS):
                if await self._try(key):
                    return
                # Another replica won the swap: back off a little (jittered) and retry.
                await asyncio.sleep(random.uniform(0, 0.005 * (attempt + 1)))  # noqa: S311
        except SidecarError as exc:
            self._store_down_until = time.monotonic() + STORE_DOWN_SECONDS
            log.warning("rate limit skipped: state store unavailable", error=str(exc))
            return
        log.warning("rate limit contention between replicas; request let through", key=key)

    def _settled_locally(self, key: str) -> bool:
        """True after spending a leased token; a 429 while the bucket is known empty."""
        now = time.monotonic()
        empty = self._empty_until.get(key)
        if empty is not None:
            if now < empty[0]:
                raise self._limited(max(1, math.ceil(empty[0] - now)))
            del self._empty_until[key]
        lease = self._leases.get(key)
        if lease is None:
            return False
        if now >= lease.until or lease.tokens <= 0:
            del self._leases[key]
            return False
        lease.tokens -= 1
        return True

    def _keep(self, key: str, lease: Lease) -> None:
        if len(self._leases) >= LEASES_KEPT:
            now = time.monotonic()
            self._leases = {k: v for k, v in self._leases.items() if v.until > now}
        self._leases[key] = lease

    def _store_down(self) -> bool:
        return time.monotonic() < self._store_down_until

    def _limited(self, wait_seconds: int) -> ProblemError:
        return ProblemError(
            429,
            "rate-limited",
            "Too Many Requests",
            f"slow down: about {self._rate:g} requests per second",
            headers={"Retry-After": str(max(wait_seconds, 1))},
        )

    async def _try(self, key: str) -> bool:
        now = time.time()
        item = await self._sidecar.get_state(STATE_STORE, key)
        bucket = (
            Bucket(item.value["tokens"], item.value["at"])
            if item is not None
            else Bucket(self._burst, now)
        ).refilled(now, self._rate, self._burst)
        if bucket.tokens < 1:
            wait = (1 - bucket.tokens) / self._rate
            self._empty_until[key] = (time.monotonic() + wait, math.ceil(wait))
            raise self._limited(math.ceil(wait))
        taken = min(self._lease_size, int(bucket.tokens))
        spent = {"tokens": bucket.tokens - taken, "at": bucket.at}
        ttl = max(int(self._burst / self._rate) + 60, 60)
        saved = (
            await self._sidecar.save_state(STATE_STORE, key, spent, etag=item.etag, ttl_seconds=ttl)
            if item is not None
            # A new bucket: only the first of racing replicas may create it.
            else await self._sidecar.claim_state(STATE_STORE, key, spent, ttl_seconds=ttl)
        )
        if saved and taken > 1:  # one is this request's, the rest wait for its next ones
            self._keep(key, Lease(taken - 1, time.monotonic() + LEASE_SECONDS))
        return saved
