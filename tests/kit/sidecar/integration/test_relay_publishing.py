"""Publishing through a real daprd into a real Redis: the stable bulk route with its alpha
fallback, and the outbox relay's order (work requests first, each run's events in order).

One Redis of the module's own and two sidecars: a current one, and one whose API
configuration denies the stable `v1.0` publish routes, which answers them 404 as a
sidecar older than Dapr 1.17 answers `/v1.0/publish/bulk`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any, cast
from uuid import UUID, uuid4

import httpx
import pytest
import redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from dursor_contracts.events import EventType, ProgressData
from dursor_kit.db.unit_of_work import PolledOutbox, Transactions
from dursor_kit.sidecar import ALPHA_BULK_PATH, STABLE_BULK_PATH, BulkEntry, Sidecar
from dursor_store.eventlog import NewEvent, append_events
from dursor_store.outbox import OutboxRelay
from dursor_store.schema import outbox
from tests.store.outbox.integration.test_outbox_relay import submit_runs
from tests.support.backing import free_port, redis_process
from tests.support.platform import daprd_binary
from tests.support.run_api_app import RunApi, run_api

PUBSUBS = ("pubsub", "pubsub-broadcast", "integrations")
DENY_STABLE_PUBLISH = """
  api:
    denied:
      - name: publish
        version: v1.0
        protocol: http
"""


def write_resources(directory: Path, redis_host: str, deny_stable: bool) -> Path:
    """The three pub/sub components on one Redis, and the sidecar's configuration."""
    directory.mkdir()
    for name in PUBSUBS:
        (directory / f"{name}.yaml").write_text(
            "apiVersion: dapr.io/v1alpha1\nkind: Component\n"
            f"metadata:\n  name: {name}\nspec:\n  type: pubsub.redis\n  version: v1\n"
            f"  metadata:\n    - name: redisHost\n      value: {redis_host}\n"
        )
    config = directory / "config.yaml"
    spec = DENY_STABLE_PUBLISH if deny_stable else "\n  tracing:\n    samplingRate: '0'\n"
    config.write_text(
        "apiVersion: dapr.io/v1alpha1\nkind: Configuration\nmetadata:\n  name: relay-test\n"
        f"spec:{spec}"
    )
    return directory


@contextlib.contextmanager
def daprd(resources: Path, log: Path) -> Iterator[int]:
    """A daprd for app id run-api without an app; yields its HTTP port."""
    port = free_port()
    argv = [str(daprd_binary()), "--app-id", "run-api", "--dapr-http-port", str(port)]
    argv += ["--dapr-grpc-port", str(free_port()), "--dapr-internal-grpc-port", str(free_port())]
    argv += ["--dapr-listen-addresses", "127.0.0.1", "--metrics-listen-address", "127.0.0.1"]
    argv += ["--enable-metrics=false", "--resources-path", str(resources)]
    argv += ["--config", str(resources / "config.yaml"), "--log-level", "warn"]
    process = subprocess.Popen(argv, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    try:
        yield port
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class RecordingSidecar(Sidecar):
    """The real sidecar client, noting the topic of each publish call in call order."""

    def __init__(self, http: httpx.AsyncClient, port: int) -> None:
        super().__init__(http, port)
        self.calls: list[str] = []

    async def publish(
        self, pubsub: str, topic: str, cloudevent: Mapping[str, Any], traceparent: str | None
    ) -> None:
        self.calls.append(topic)
        await super().publish(pubsub, topic, cloudevent, traceparent)

    async def publish_bulk(self, pubsub: str, topic: str, entries: Any) -> set[str]:
        self.calls.append(topic)
        return await super().publish_bulk(pubsub, topic, entries)


class Sidecars:
    """The module's Redis and its two sidecars' HTTP ports."""

    def __init__(self, redis_host: str, current: int, old: int) -> None:
        self.redis_host = redis_host
        self.current = current
        self.old = old

    def redis(self) -> redis.Redis:
        host, _, port = self.redis_host.rpartition(":")
        return redis.Redis(host=host, port=int(port))

    def stream(self, topic: str) -> list[dict[str, Any]]:
        """The CloudEvents on a topic's Redis stream, in stream order."""
        entries = cast(list[tuple[bytes, dict[bytes, bytes]]], self.redis().xrange(topic))
        return [json.loads(fields[b"data"]) for _, fields in entries]


@pytest.fixture(scope="module")
async def sidecars(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Sidecars]:
    """Both sidecars up and ready on one Redis."""
    workdir = tmp_path_factory.mktemp("relay-sidecars")
    with (
        redis_process() as (redis_host, _),
        daprd(write_resources(workdir / "current", redis_host, False), workdir / "c.log") as a,
        daprd(write_resources(workdir / "old", redis_host, True), workdir / "o.log") as b,
    ):
        async with httpx.AsyncClient(timeout=10) as http:
            await asyncio.gather(Sidecar(http, a).wait_ready(90), Sidecar(http, b).wait_ready(90))
        yield Sidecars(redis_host, a, b)


@pytest.fixture
async def api(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[RunApi]:
    """run-api whose own relay never runs (the tests drive relays themselves)."""
    async with run_api(engine, tmp_path, max_active_runs_per_user=100) as app:
        yield app


def bulk_entries(topic: str, count: int) -> list[BulkEntry]:
    """`count` CloudEvents of a made-up topic, each with a fresh id."""
    return [
        BulkEntry(
            str(index),
            {
                "specversion": "1.0",
                "id": str(uuid4()),
                "source": "run-api",
                "type": topic,
                "datacontenttype": "application/json",
                "data": {"index": index},
            },
        )
        for index in range(count)
    ]


async def test_bulk_publishing_uses_the_stable_route_of_a_current_sidecar(
    sidecars: Sidecars,
) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        sidecar = Sidecar(http, sidecars.current)
        failed = await sidecar.publish_bulk("pubsub", "bulk-current", bulk_entries("x", 3))
    assert failed == set()
    assert sidecar.bulk_publish_path == STABLE_BULK_PATH
    assert sorted(e["data"]["index"] for e in sidecars.stream("bulk-current")) == [0, 1, 2]


async def test_bulk_publishing_falls_back_to_the_alpha_route_on_404(sidecars: Sidecars) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        stable = await http.post(
            f"http://127.0.0.1:{sidecars.old}{STABLE_BULK_PATH}/pubsub/bulk-old", json=[]
        )
        sidecar = Sidecar(http, sidecars.old)
        first = await sidecar.publish_bulk("pubsub", "bulk-old", bulk_entries("x", 2))
        second = await sidecar.publish_bulk("pubsub", "bulk-old", bulk_entries("x", 2))
    assert stable.status_code == 404  # what the fallback is for
    assert (first, second) == (set(), set())
    assert sidecar.bulk_publish_path == ALPHA_BULK_PATH
    assert sorted(e["data"]["index"] for e in sidecars.stream("bulk-old")) == [0, 0, 1, 1]


async def test_the_relay_publishes_run_requested_first_and_each_runs_events_in_order(
    sidecars: Sidecars, api: RunApi
) -> None:
    run_ids = [UUID(r) for r in await submit_runs(api, 3)]
    as_run_api = Transactions(api.engine, PolledOutbox("run-api"))
    for run_id in run_ids:  # a run's later events in a transaction of their own
        async with as_run_api.begin() as work:
            notes = [ProgressData(message=f"step {i}", step="git") for i in range(12)]
            await append_events(work, run_id, [NewEvent(EventType.PROGRESS, n) for n in notes])
    before = len(sidecars.stream("run-events"))

    async with httpx.AsyncClient(timeout=10) as http:
        sidecar = RecordingSidecar(http, sidecars.current)
        sent = await OutboxRelay(api.engine, sidecar, "run-api").relay_once()

    # Per run: `accepted`, run-requested, `queued` and 12 progress events.
    assert sent == 3 * 15
    assert sidecar.calls[0] == "run-requested"
    assert sidecar.calls.count("run-requested") == 1  # the three in one bulk request
    published = sidecars.stream("run-events")[before:]
    for run_id in run_ids:
        seqs = [e["data"]["seq"] for e in published if e["data"]["run_id"] == str(run_id)]
        assert seqs == list(range(1, 14)), (run_id, seqs)
    assert await unsent(api.engine) == 0


async def unsent(engine: AsyncEngine) -> int:
    """Outbox rows not published yet."""
    async with engine.connect() as conn:
        rows = await conn.scalars(select(outbox.c.id).where(outbox.c.sent_at.is_(None)))
        return len(list(rows))


async def all_sent(engine: AsyncEngine, within: float) -> None:
    """Return once every outbox row is published; fail after `within` seconds."""
    for _ in range(int(within / 0.05)):
        if not await unsent(engine):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{await unsent(engine)} outbox rows unsent after {within} s")


async def test_a_commit_wakes_a_running_relay_long_before_its_poll_interval(
    sidecars: Sidecars, api: RunApi
) -> None:
    (run_id,) = await submit_runs(api, 1)
    async with httpx.AsyncClient(timeout=10) as http:
        sidecar = Sidecar(http, sidecars.current)
        relay = OutboxRelay(api.engine, sidecar, "run-api", poll_interval=3600)
        relaying = asyncio.create_task(relay.run())
        try:
            await all_sent(api.engine, within=60)  # its first round; then it waits an hour
            async with Transactions(api.engine, relay).begin() as work:
                note = ProgressData(message="woken", step="git")
                await append_events(work, UUID(run_id), [NewEvent(EventType.PROGRESS, note)])
            await all_sent(api.engine, within=30)  # an hour without the wake-up
        finally:
            relaying.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await relaying
    events = [e["data"] for e in sidecars.stream("run-events") if e["data"]["run_id"] == run_id]
    assert [e["seq"] for e in events] == [1, 2]


async def test_a_running_relay_publishes_what_a_commit_hands_it_before_any_round(
    sidecars: Sidecars, api: RunApi
) -> None:
    (run_id,) = await submit_runs(api, 1)
    async with httpx.AsyncClient(timeout=10) as http:
        relay = OutboxRelay(api.engine, Sidecar(http, sidecars.current), "run-api", 3600)
        relaying = asyncio.create_task(relay.run())
        try:
            await all_sent(api.engine, within=60)  # its first round; then it waits an hour
            async with Transactions(api.engine, relay).begin() as work:
                notes = [ProgressData(message=f"handed {i}", step="git") for i in range(3)]
                await append_events(
                    work, UUID(run_id), [NewEvent(EventType.PROGRESS, n) for n in notes]
                )
            await work.published(timeout=30)
            in_stream = [
                e["data"]["seq"]
                for e in sidecars.stream("run-events")
                if e["data"]["run_id"] == run_id
            ]
            await all_sent(api.engine, within=30)  # marked sent right after
        finally:
            relaying.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await relaying
    # Out when the committer's wait ends (the runner starts an attempt only then).
    assert in_stream == [1, 2, 3, 4]
