"""The retained `run-events` backlog a restarted sidecar's new consumer group starts from.

`pubsub-broadcast` gives each sidecar a consumer group of its own, and Dapr's Redis
Streams component creates a new group at the head of the retained stream (`XGROUP
CREATE … 0`), so a sidecar started again receives whatever the stream still holds.
These helpers fill the stream through a real sidecar and count what a gateway received.
(Redis's `entries-read` of a group is no measure of it: a group created at 0 counts
from the first entry ever added, trimmed ones included.)
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from redis.asyncio import Redis

from dursor_contracts.cloudevents import build_cloudevent
from dursor_contracts.events import EventType, LogData, RunEventV1
from dursor_contracts.topics import RUN_EVENTS
from tests.support.platform import Platform, Replica

PER_REQUEST = 250
BROADCAST_FILE = "pubsub-broadcast.yaml"


def set_stream_cap(components: Path, cap: int, file: str = BROADCAST_FILE) -> None:
    """Replace a pub/sub component's `maxLenApprox` in a platform's copy of components/."""
    path = components / file
    text = path.read_text()
    edited, count = re.subn(
        r'(- name: maxLenApprox\n\s+value: )"\d+"', rf'\g<1>"{cap}"', text, count=1
    )
    if count != 1:
        raise ValueError(f"no maxLenApprox in {path}")
    path.write_text(edited)


def _event(run_id: uuid.UUID, task_id: uuid.UUID, seq: int) -> dict[str, Any]:
    payload = RunEventV1(
        run_id=run_id,
        task_id=task_id,
        seq=seq,
        turn=1,
        attempt=1,
        type=EventType.LOG,
        data=LogData(stream="stdout", lines=[f"retained line {seq}"]).model_dump(),
        created_at=datetime.now(UTC),
    )
    return build_cloudevent(RUN_EVENTS, uuid.uuid4(), "chaos-backlog", payload)


async def publish_run_events(publisher: Replica, count: int) -> None:
    """`count` valid run events of one made-up run, published through `publisher`'s daprd."""
    run_id, task_id = uuid.uuid4(), uuid.uuid4()
    url = f"{publisher.sidecar_url}/v1.0/publish/bulk/{RUN_EVENTS.pubsub}/{RUN_EVENTS.name}"
    async with httpx.AsyncClient(timeout=60.0, headers=publisher.sidecar_headers) as client:
        for first in range(1, count + 1, PER_REQUEST):
            entries = [
                {
                    "entryId": str(seq),
                    "event": _event(run_id, task_id, seq),
                    "contentType": "application/cloudevents+json",
                }
                for seq in range(first, min(first + PER_REQUEST, count + 1))
            ]
            response = await client.post(url, json=entries)
            response.raise_for_status()


async def stream_length(redis_host: str, stream: str = RUN_EVENTS.name) -> int:
    """Entries the stream retains right now."""
    async with Redis.from_url(f"redis://{redis_host}/0") as redis:
        return int(await redis.xlen(stream))


async def live_messages(platform: Platform, gateway: Replica) -> int:
    """`run-events` messages the gateway replica has received from its sidecar so far."""
    async with httpx.AsyncClient(timeout=30.0, headers=platform.bearer("admin")) as client:
        response = await client.get(f"{gateway.url}/v1/gateway/metrics")
        response.raise_for_status()
        return int(response.json()["live_messages"])


async def live_messages_settled(
    platform: Platform, gateway: Replica, quiet: float = 3.0, timeout: float = 120.0
) -> int:
    """The gateway's received count once it has not changed for `quiet` seconds."""
    deadline = time.monotonic() + timeout
    last, since = await live_messages(platform, gateway), time.monotonic()
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        now = await live_messages(platform, gateway)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return now
    raise TimeoutError(f"{gateway.name} still receiving after {timeout}s ({last})")
