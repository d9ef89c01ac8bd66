"""The gateway's token bucket against an in-memory state store with ETags."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from dursor_kit.errors import ProblemError
from dursor_kit.sidecar import Sidecar, SidecarError, StateItem
from events_gateway.edge.rate_limit import RateLimiter


class MemoryStateStore:
    """get_state/save_state as Dapr's: an ETag must match, no ETag writes anyway."""

    def __init__(self) -> None:
        self.items: dict[str, tuple[Any, int]] = {}
        self.calls = 0
        self.down = False

    async def get_state(self, store: str, key: str) -> StateItem | None:
        """The value and its version as ETag."""
        await self._round_trip()
        found = self.items.get(key)
        return StateItem(found[0], str(found[1])) if found else None

    async def save_state(
        self, store: str, key: str, value: Any, *, etag: str | None = None, **_: Any
    ) -> bool:
        """Refuse a write whose ETag is stale; without one, the last write wins."""
        await self._round_trip()
        version = self.items[key][1] if key in self.items else 0
        if etag is not None and etag != str(version):
            return False
        self.items[key] = (value, version + 1)
        return True

    async def claim_state(self, store: str, key: str, value: Any, **_: Any) -> bool:
        """Create the item unless it exists (Dapr's first-write without an ETag)."""
        await self._round_trip()
        if key in self.items:
            return False
        self.items[key] = (value, 1)
        return True

    async def _round_trip(self) -> None:
        self.calls += 1
        await asyncio.sleep(0)
        if self.down:
            raise SidecarError("state store: connection refused")


def limiter(store: MemoryStateStore, rate: float = 1.0, burst: int = 5) -> RateLimiter:
    """A limiter over the in-memory store."""
    return RateLimiter(cast(Sidecar, store), rate, burst)


async def outcomes(limit: RateLimiter, caller: str, count: int) -> list[int]:
    """Status of `count` parallel requests: 200 or 429."""

    async def one() -> int:
        try:
            await limit.take(caller)
        except ProblemError as refused:
            return refused.status
        return 200

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def test_parallel_requests_of_one_caller_get_exactly_the_burst() -> None:
    statuses = await outcomes(limiter(MemoryStateStore(), rate=0.001, burst=5), "alice", 20)
    assert statuses.count(200) == 5
    assert statuses.count(429) == 15


async def test_callers_have_buckets_of_their_own() -> None:
    limit = limiter(MemoryStateStore(), rate=0.001, burst=2)
    assert await outcomes(limit, "alice", 3) == [200, 200, 429]
    assert await outcomes(limit, "bob", 2) == [200, 200]


async def test_a_refusal_says_when_to_come_back() -> None:
    limit = limiter(MemoryStateStore(), rate=0.5, burst=1)
    await limit.take("alice")
    with pytest.raises(ProblemError) as refused:
        await limit.take("alice")
    assert refused.value.headers == {"Retry-After": "2"}


async def test_a_failing_store_lets_requests_through_and_is_not_asked_again_at_once() -> None:
    store = MemoryStateStore()
    store.down = True
    assert await outcomes(limiter(store, rate=0.001, burst=1), "alice", 50) == [200] * 50
    assert store.calls == 1


async def test_a_replica_leases_tokens_and_never_lets_more_than_the_burst_through() -> None:
    store = MemoryStateStore()
    limit = limiter(store, rate=0.001, burst=40)
    statuses = await outcomes(limit, "alice", 60)
    assert statuses.count(200) == 40
    # Ten tokens per round trip (a quarter of the burst): four leases, then the refusal
    # that is remembered until the next token is due.
    assert store.calls <= 2 * 4 + 1
    calls = store.calls
    assert await outcomes(limit, "alice", 10) == [429] * 10
    assert store.calls == calls


async def test_two_replicas_sharing_a_bucket_let_through_at_most_the_burst() -> None:
    store = MemoryStateStore()
    one, two = limiter(store, rate=0.001, burst=40), limiter(store, rate=0.001, burst=40)
    first, second = await asyncio.gather(outcomes(one, "alice", 30), outcomes(two, "alice", 30))
    assert (first + second).count(200) <= 40
    assert (first + second).count(200) >= 30  # leases left unspent are lost, never doubled
