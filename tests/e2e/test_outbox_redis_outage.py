"""No accepted run is lost: Redis down at submit time delays runs, never drops or doubles them.

The platform gets a Redis of its own (a real redis-server process) so stopping it
disturbs no other test, two run-api replicas (two relays racing on one outbox), and no
agent-runner, so the `run-requested` stream can be read as it is with XRANGE.
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import PlatformFactory
from tests.support.backing import free_port, redis_process
from tests.support.platform import Platform

pytestmark = pytest.mark.e2e

RUNS = 200
LIMITS = {"DURSOR_MAX_ACTIVE_RUNS_PER_USER": "1000", "DURSOR_MAX_ACTIVE_RUNS_PER_TASK": "1000"}


def port_outside_ephemeral_range() -> int:
    """A free port no outgoing connection can take while Redis is down (so it restarts)."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for _ in range(100):
        port = random.randrange(max(1024, low - 12_000), low)
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return port
    return free_port()


async def start_without_runner(platform: Platform) -> None:
    """Gateway, auth and two run-api replicas, all ready."""
    replicas = [platform.start(app) for app in ("events-gateway", "run-api", "run-api", "auth")]
    await asyncio.gather(*(platform.wait_ready(r) for r in replicas))


async def new_task(client: httpx.AsyncClient) -> str:
    """A task to submit runs to."""
    outage = Path(tempfile.gettempdir(), "outage")  # under the platform's local root
    repo = await client.post("/v1/repos", json={"url": outage.as_uri()})
    task = await client.post("/v1/tasks", json={"repo_id": repo.json()["id"], "title": "outage"})
    assert task.status_code == 201, task.text
    task_id: str = task.json()["id"]
    return task_id


async def submit_all(client: httpx.AsyncClient, task_id: str) -> list[httpx.Response]:
    """RUNS single-run submissions, 16 at a time."""
    gate = asyncio.Semaphore(16)
    body = {"instruction": "survive the outage", "executors": [{"type": "codex"}]}

    async def one() -> httpx.Response:
        async with gate:
            return await client.post(f"/v1/tasks/{task_id}/runs", json=body)

    return await asyncio.gather(*(one() for _ in range(RUNS)))


async def unsent_run_requests(platform: Platform) -> int:
    """run-requested messages committed but not yet published."""
    engine = create_async_engine(platform.database_url)
    try:
        async with engine.connect() as conn:
            count = await conn.scalar(
                text(
                    "SELECT count(*) FROM outbox "
                    "WHERE topic = 'run-requested' AND sent_at IS NULL AND attempts > 0"
                )
            )
            return int(count or 0)
    finally:
        await engine.dispose()


def stream_run_ids(client: redis.Redis) -> list[str]:
    """The run id of every entry of the run-requested stream."""
    ids = []
    entries: list[tuple[bytes, dict[bytes, bytes]]] = client.xrange("run-requested")  # type: ignore[assignment]
    for _, fields in entries:
        envelope: dict[str, Any] = json.loads(fields[b"data"])
        ids.append(envelope["data"]["run_id"])
    return ids


async def wait_for_stream(client: redis.Redis, run_ids: set[str], timeout: float) -> None:
    """Until every run id is in the stream (or the timeout passes)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.exists("run-requested") and run_ids <= set(stream_run_ids(client)):
            return
        await asyncio.sleep(0.25)


async def test_runs_submitted_while_redis_is_down_are_published_once_each_after(
    make_platform: PlatformFactory,
) -> None:
    port = port_outside_ephemeral_range()
    with redis_process(port) as (host, server):
        platform = await make_platform(env=LIMITS, start=False, redis_host=host)
        await start_without_runner(platform)
        headers = platform.bearer("developer")
        async with httpx.AsyncClient(
            base_url=platform.gateway.url, headers=headers, timeout=60
        ) as client:
            task_id = await new_task(client)
            server.terminate()
            server.wait(10)
            with pytest.raises(redis.ConnectionError):
                redis.Redis(port=port).ping()

            answers = await submit_all(client, task_id)
            accepted = [r["id"] for a in answers if a.status_code == 202 for r in a.json()["runs"]]
            tried_while_down = await unsent_run_requests(platform)

        with redis_process(port):
            stream = redis.Redis(port=port)
            await wait_for_stream(stream, set(accepted), timeout=40)
            await asyncio.sleep(1.0)  # a late duplicate would show up in this second
            published = stream_run_ids(stream)
            still_unsent = await unsent_run_requests(platform)

    refused = [(a.status_code, a.text[:200]) for a in answers if a.status_code != 202]
    assert refused == []
    assert len(set(accepted)) == RUNS
    # The relays really tried, and failed, while Redis was down.
    assert tried_while_down > 0
    missing = set(accepted) - set(published)
    doubled = [run_id for run_id, n in Counter(published).items() if n > 1]
    assert (len(missing), doubled) == (0, []), f"{still_unsent} run-requested still unsent"
    assert Counter(published) == Counter(accepted)
