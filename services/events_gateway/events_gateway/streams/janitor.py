"""Deletes the consumer groups of sidecars that are gone, on the fan-out streams.

`pubsub-broadcast` gives every sidecar its own consumer group (`<app-id>-<uuid>`), so
every replica receives every message. A replica that stops leaves its group behind;
without this janitor the groups (and their pending entries) would grow forever. A group
is deleted once every consumer in it has been idle longer than the threshold *and* it
is stuck behind the stream: entries exist past the last one it read, and that last one
has not moved since the previous sweep. Idle alone is no proof of death: before Redis
7.2 a consumer blocked on a quiet stream never looks active, and deleting a live
sidecar's group makes Dapr recreate it at the head of the retained stream, which hands
the whole backlog to that replica again. A live sidecar reads new entries within its
poll, so its group is never stuck. Several gateway replicas may sweep at once: deleting
a deleted group is harmless.
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
        # Groups seen idle and behind, with the last entry each had read then.
        self._behind: dict[tuple[str, str], str] = {}

    async def sweep_once(self) -> list[str]:
        """Delete abandoned groups; returns `stream/group` of each one deleted."""
        removed: list[str] = []
        for stream in self._streams:
            head, groups = await self._groups(stream)
            self._forget_gone(stream, set(groups))
            for group, last_read in groups.items():
                if PER_SIDECAR_GROUP.match(group) and await self._abandoned(
                    stream, group, last_read, head
                ):
                    await self._delete(stream, group)
                    removed.append(f"{stream}/{group}")
        return removed

    async def _groups(self, stream: str) -> tuple[str, dict[str, str]]:
        """The stream's newest entry id, and each group's last-read entry id."""
        try:
            head = str((await self._redis.xinfo_stream(stream))["last-generated-id"])
            groups: list[dict[str, Any]] = await self._redis.xinfo_groups(stream)
        except ResponseError:  # the stream does not exist (yet)
            return "", {}
        return head, {str(g["name"]): str(g["last-delivered-id"]) for g in groups}

    def _forget_gone(self, stream: str, groups: set[str]) -> None:
        """Drop what was noted about groups that no longer exist (bounded memory)."""
        for key in [k for k in self._behind if k[0] == stream and k[1] not in groups]:
            del self._behind[key]
        self._empty = {k for k in self._empty if k[0] != stream or k[1] in groups}

    async def _abandoned(self, stream: str, group: str, last_read: str, head: str) -> bool:
        key = (stream, group)
        consumers: list[dict[str, Any]] = await self._redis.xinfo_consumers(stream, group)
        if not consumers:
            seen_before = key in self._empty
            self._empty.add(key)
            return seen_before
        self._empty.discard(key)
        idle = min(int(c["idle"]) for c in consumers) >= self._idle_ms
        if not idle or last_read == head:
            self._behind.pop(key, None)
            return False
        stuck = self._behind.get(key) == last_read
        self._behind[key] = last_read
        return stuck

    async def _delete(self, stream: str, group: str) -> None:
        try:
            await self._redis.xgroup_destroy(stream, group)
        except ResponseError:
            return
        self._empty.discard((stream, group))
        self._behind.pop((stream, group), None)
        log.info("deleted abandoned consumer group", stream=stream, group=group)


async def sweep_forever(janitor: GroupJanitor, interval: float) -> None:
    """Sweep on a timer; a Redis hiccup skips one round."""
    while True:
        await asyncio.sleep(interval)
        try:
            await janitor.sweep_once()
        except RedisError as exc:
            log.warning("janitor sweep failed", error=str(exc))
