"""SSE through two gateway replicas: every event, exactly once, in order, across anything."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from tests.conftest import PlatformFactory
from tests.support.git_remote import make_remote
from tests.support.platform import Platform, Replica
from tests.support.sse import Frame, collect, frames

pytestmark = pytest.mark.e2e

STREAM_ENV = {
    "DURSOR_LOG_BATCH_SECONDS": "0.02",
    "DURSOR_JANITOR_IDLE_SECONDS": "3",
    "DURSOR_JANITOR_INTERVAL_SECONDS": "1",
}


@pytest.fixture(scope="module")
async def two_gateways(
    backing: Any, databases: Any, tmp_path_factory: pytest.TempPathFactory
) -> Any:
    """One of each service but two gateway replicas."""
    from tests.conftest import running_platform

    workdir = tmp_path_factory.mktemp("two-gateways")
    async with running_platform(backing, databases, workdir, STREAM_ENV, start=False) as p:
        replicas = [
            p.start(a)
            for a in ("events-gateway", "events-gateway", "run-api", "auth", "agent-runner")
        ]
        await asyncio.gather(*(p.wait_ready(r) for r in replicas))
        yield p


def gateways(platform: Platform) -> list[Replica]:
    """The live gateway replicas."""
    return [r for r in platform.replicas if r.app_id == "events-gateway" and r.app.poll() is None]


async def start_run(platform: Platform, remote: Path, lines: int) -> dict[str, Any]:
    """A `chatty` run printing `lines` lines; returns the run."""
    via = gateways(platform)[0].url
    task_id = await platform.new_task(f"file://{remote}", "stream", via)
    async with httpx.AsyncClient(
        base_url=via, headers=platform.bearer("developer"), timeout=30
    ) as client:
        accepted = await client.post(
            f"/v1/tasks/{task_id}/runs",
            json={
                "instruction": str(lines),
                "executors": [{"type": "command", "options": {"template": "chatty"}}],
            },
        )
        run: dict[str, Any] = accepted.json()["runs"][0]
        return run


def key(frame: Frame) -> tuple[int, str, str]:
    """What must be identical between two deliveries of the same event."""
    return (int(frame.id or 0), frame.event, frame.data)


async def read_whole(url: str, run_id: str, headers: dict[str, str]) -> list[Frame]:
    """Every frame of a run's stream from one connection."""
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        status, got = await collect(client, f"/v1/runs/{run_id}/stream", headers, timeout=120)
    assert status == 200
    return got


async def test_clients_on_both_replicas_receive_every_event(
    two_gateways: Platform, tmp_path: Path
) -> None:
    run = await start_run(two_gateways, make_remote(tmp_path), 150)
    first, second = await asyncio.gather(
        *(
            read_whole(g.url, run["id"], two_gateways.bearer("viewer"))
            for g in gateways(two_gateways)
        )
    )
    assert [key(f) for f in first] == [key(f) for f in second]
    assert [int(f.id or 0) for f in first] == list(range(1, len(first) + 1))
    assert first[-1].event == "completed"
    # The agent's own output, in order (the runner's `system` lines, e.g. the warning of a
    # host that cannot jail, come between them).
    agent_logs = [f for f in first if f.event == "log" and f.json["data"]["stream"] != "system"]
    lines = [line for f in agent_logs for line in f.json["data"]["lines"]]
    assert lines[:150] == [f"line {i}" for i in range(1, 151)]


async def test_a_hundred_random_disconnects_lose_and_repeat_nothing(
    two_gateways: Platform, tmp_path: Path
) -> None:
    run = await start_run(two_gateways, make_remote(tmp_path), 400)
    rng = random.Random(4242)
    received: list[Frame] = []
    last_id: str | None = None
    for _ in range(100):
        url = rng.choice(gateways(two_gateways)).url
        got = await read_some(url, run["id"], last_id, rng.randint(1, 3), two_gateways)
        received += got
        last_id = got[-1].id if got else last_id
    received += await read_some(
        gateways(two_gateways)[1].url, run["id"], last_id, 10**6, two_gateways
    )
    reference = await read_whole(
        gateways(two_gateways)[0].url, run["id"], two_gateways.bearer("viewer")
    )

    assert [key(f) for f in received] == [key(f) for f in reference]
    assert received[-1].event == "completed"


async def read_some(
    url: str, run_id: str, last_id: str | None, count: int, platform: Platform
) -> list[Frame]:
    """Up to `count` frames after `last_id`, then hang up (or the server ends the stream)."""
    headers = platform.bearer("viewer") | ({"last-event-id": last_id} if last_id else {})
    got: list[Frame] = []
    async with (
        httpx.AsyncClient(base_url=url, timeout=60) as client,
        client.stream("GET", f"/v1/runs/{run_id}/stream", headers=headers) as response,
    ):
        if response.status_code == 204:
            return got
        assert response.status_code == 200
        async for frame in frames(response):
            got.append(frame)
            if len(got) >= count:
                break
    return got


async def test_killing_a_replica_mid_stream_loses_nothing_and_its_group_is_swept(
    make_platform: PlatformFactory, tmp_path: Path
) -> None:
    platform = await make_platform(env=STREAM_ENV, start=False)
    replicas = [
        platform.start(a)
        for a in ("events-gateway", "events-gateway", "run-api", "auth", "agent-runner")
    ]
    await asyncio.gather(*(platform.wait_ready(r) for r in replicas))
    run = await start_run(platform, make_remote(tmp_path), 200)
    doomed, survivor = gateways(platform)
    async with redis_of(platform) as redis:
        groups_before = await gateway_groups(redis)
        first = await read_some(doomed.url, run["id"], None, 40, platform)
        doomed.kill()
        rest = await read_some(survivor.url, run["id"], first[-1].id, 10**6, platform)
        groups_after = await wait_until_groups(redis, 1)
    reference = await read_whole(survivor.url, run["id"], platform.bearer("viewer"))

    assert [key(f) for f in first + rest] == [key(f) for f in reference]
    assert rest[-1].event == "completed"
    # The janitor deleted the dead sidecar's consumer group and kept the live one.
    assert len(groups_before) == 2
    assert len(groups_after) == 1
    assert groups_after < groups_before


@contextlib.asynccontextmanager
async def redis_of(platform: Platform) -> AsyncIterator[aioredis.Redis]:
    """A client of the Redis DB the platform's components use."""
    host, _, port = platform.redis_host.rpartition(":")
    redis = aioredis.Redis(
        host=host,
        port=int(port),
        db=platform.redis_db,
        password=platform.redis_password or None,
        decode_responses=True,
    )
    try:
        yield redis
    finally:
        await redis.aclose()


async def gateway_groups(redis: aioredis.Redis) -> set[str]:
    """The gateways' consumer groups on the run-events stream."""
    groups = await redis.xinfo_groups("run-events")
    return {g["name"] for g in groups if g["name"].startswith("events-gateway-")}


async def wait_until_groups(redis: aioredis.Redis, count: int) -> set[str]:
    """Poll until the gateways have `count` groups left."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if len(groups := await gateway_groups(redis)) == count:
            return groups
        await asyncio.sleep(0.5)
    raise AssertionError(f"still {await gateway_groups(redis)}")
