"""Deletes the consumer groups of sidecars that are gone, on the fan-out streams.

`pubsub-broadcast` gives every sidecar its own consumer group (`<app-id>-<uuid>`), so
every replica receives every message. A replica that stops leaves its group behind;
without this janitor the groups (and their pending entries) would grow forever. A group
is deleted once every consumer in it has been idle longer than the threshold — a live
sidecar polls every few seconds, so its consumer is never idle that long. Several
gateway replicas may sweep at once: deleting a deleted group is harmless.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from dursor_contracts.topics import ALL_TOPICS, PubSub

log = structlog.get_logger(__name__)

PER_SIDECAR_GROUP = re.compile(r"^[a-z0-9-]+-[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$")
BROADCAST_STREAMS = tuple(
    name
    for topic in ALL_TOPICS
    if topic.pubsub is PubSub.BROADCAST
    for name in (topic.name, topic.dead_letter)
)


class GroupJanitor:
    """One sweep deletes abandoned per-sidecar groups of the broadcast streams."""

    def __init__(
        self, redis: Redis, idle_seconds: float, streams: tuple[str, ...] = BROADCAST_STREAMS
    ) -> None:
        self._redis = redis
        self._idle_ms = idle_seconds * 1000
        self._streams = streams
        # Groups seen without any consumer: deleted if still empty at the next sweep.
        self._empty: set[tuple[str, str]] = set()

    async def sweep_once(self) -> list[str]:
        """Delete abandoned groups; returns `stream/group` of each one deleted."""
        removed: list[str] = []
        for stream in self._streams:
            for group in await self._groups(stream):
                if PER_SIDECAR_GROUP.match(group) and await self._abandoned(stream, group):
                    await self._delete(stream, group)
                    removed.append(f"{stream}/{group}")
        return removed

    async def _groups(self, stream: str) -> list[str]:
        try:
            groups: list[dict[str, Any]] = await self._redis.xinfo_groups(stream)
        except ResponseError:  # the stream does not exist (yet)
            return []
        return [str(g["name"]) for g in groups]

    async def _abandoned(self, stream: str, group: str) -> bool:
        consumers: list[dict[str, Any]] = await self._redis.xinfo_consumers(stream, group)
        if not consumers:
            seen_before = (stream, group) in self._empty
            self._empty.add((stream, group))
            return seen_before
        self._empty.discard((stream, group))
        return min(int(c["idle"]) for c in consumers) >= self._idle_ms

    async def _delete(self, stream: str, group: str) -> None:
        try:
            await self._redis.xgroup_destroy(stream, group)
        except ResponseError:
            return
        self._empty.discard((stream, group))
        log.info("deleted abandoned consumer group", stream=stream, group=group)


async def sweep_forever(janitor: GroupJanitor, interval: float) -> None:
    """Sweep on a timer; a Redis hiccup skips one round."""
    while True:
        await asyncio.sleep(interval)
        try:
            await janitor.sweep_once()
        except RedisError as exc:
            log.warning("janitor sweep failed", error=str(exc))
