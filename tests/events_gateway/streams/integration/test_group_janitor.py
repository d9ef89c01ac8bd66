"""The consumer-group janitor on a real Redis: live quiet groups stay, stuck ones go."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from events_gateway.streams.janitor import GroupJanitor
from tests.conftest import _redis_dbs
from tests.support.backing import Backing

IDLE_SECONDS = 0.2


@pytest.fixture
async def redis(backing: Backing) -> AsyncIterator[Redis]:
    """A client of one of this worker's Redis DBs (the test's streams have names of their own)."""
    host, _, port = backing.redis_host.rpartition(":")
    client = Redis(
        host=host,
        port=int(port),
        db=next(_redis_dbs),
        password=backing.redis_password or None,
        decode_responses=True,
    )
    yield client
    await client.aclose()


async def read_all(redis: Redis, stream: str, group: str) -> None:
    """What a sidecar does with new entries: read them as its own consumer."""
    await redis.xreadgroup(group, group, {stream: ">"})


async def groups_of(redis: Redis, stream: str) -> set[str]:
    """Names of the stream's consumer groups."""
    return {g["name"] for g in await redis.xinfo_groups(stream)}


async def test_a_quiet_live_group_is_kept_and_a_stuck_one_is_swept(redis: Redis) -> None:
    stream = f"janitor-{uuid.uuid4()}"
    live, dead = (f"events-gateway-{uuid.uuid4()}" for _ in range(2))
    janitor = GroupJanitor(redis, IDLE_SECONDS, streams=(stream,))
    try:
        await redis.xadd(stream, {"data": "1"})
        for group in (live, dead):
            await redis.xgroup_create(stream, group, id="0")
            await read_all(redis, stream, group)
        await asyncio.sleep(2 * IDLE_SECONDS)
        # A quiet stream: both consumers look idle (before Redis 7.2 a consumer blocked
        # in XREADGROUP never looks active), but neither is behind: both stay.
        for _ in range(3):
            assert await janitor.sweep_once() == []

        await redis.xadd(stream, {"data": "2"})
        # Swept while the live one has not read the new entry yet: noted, not deleted.
        assert await janitor.sweep_once() == []
        await read_all(redis, stream, live)
        await asyncio.sleep(2 * IDLE_SECONDS)
        # The dead one is still where it was: deleted; the live one caught up: kept.
        assert await janitor.sweep_once() == [f"{stream}/{dead}"]
        assert await janitor.sweep_once() == []
        assert await groups_of(redis, stream) == {live}
    finally:
        await redis.delete(stream)
