"""SSE fan-out: our gateway vs the seed's one-Redis-subscription-per-client endpoint.

N clients watch one run; a producer emits a log line every `interval` seconds for about
`--seconds`, then the run ends. Both targets get the same clients, the same load
generator and the same event shape; rounds alternate between them at each N.

- ours: the real agent-runner executes a `ticker` command (it waits for a go-file so
  every client is connected first, then prints one line per interval); each line is a
  `log` event written to Postgres, relayed through the outbox and Dapr pub/sub
  (`pubsub-broadcast` / `run-events`, Redis Streams) to the events-gateway, which fans
  it out in-process, encoding each frame once. Every client has a token of its own.
- baseline: `bench/celery_baseline`'s SSE endpoint (the seed's section 6): FastAPI, one
  Redis pub/sub connection per client; the bench PUBLISHes each event on `run:{id}:events`
  at the same interval (what the seed's Celery worker does).

Measured per round: frames delivered per second across all clients, latency from the
event's `created_at` to the client having the frame (p50/p99), frames missing, and the
memory of the serving process (RSS, children included) and of Redis per idle open
connection. Then the time to replay a 10 000-event run from the start through the
gateway, against reading and encoding the same rows directly (the seed cannot replay).

    uv run python -m bench.sse_fanout                 # 100, 1000, 5000 clients (~6 min)
    uv run python -m bench.sse_fanout --clients 100 --seconds 5 --replay 2000   # a quick look
    uv run python -m bench.sse_fanout --clients 1000 --rate 50   # offer more than either serves

`--frames-per-second` spreads a total offer over the clients (at most 20 events/s per
run), which at 1,000 clients offers 20,000 frames/s: a target that delivers that much is
offer-bound and its ratio says nothing about capacity. `--rate` sets the events per
second of the run instead (the same for both targets), so the offer can exceed what
either side delivers. The client's own CPU time over the delivery window is printed per
round: near one core, the client (not the server) is the bottleneck.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import aiohttp
import httpx
import psutil
import redis.asyncio as aioredis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from bench.celery_baseline.schema import create_tables
from bench.celery_baseline.settings import BaselineSettings, events_channel
from bench.run_api_get_run import wait_until_up
from bench.submit_to_running import start_process, stop_process
from dursor_contracts.events import CompletedData, EventType, LogData
from dursor_kit.db.unit_of_work import PolledOutbox, Transactions
from dursor_store.eventlog import NewEvent, append_events, read_events
from dursor_store.schema import outbox
from events_gateway.streams.hub import encode
from tests.support.backing import backing_services, free_port, redis_process
from tests.support.databases import DatabaseFactory
from tests.support.git_remote import make_remote
from tests.support.platform import APPS, COMMAND_TEMPLATES, Platform

OURS_REDIS_DB, BASELINE_REDIS_DB = 1, 2
# Waits for the go-file ($1), then prints $2 lines, $3 seconds apart.
TICKER = [
    "sh",
    "-c",
    'set -- $1; while [ ! -e "$1" ]; do sleep 0.02; done; i=0; '
    'while [ "$i" -lt "$2" ]; do i=$((i+1)); echo "tick $i"; sleep "$3"; done',
    "dursor",
    "{instruction}",
]
OPEN_AT_ONCE = 200
GO_FILES = "go-files"  # a folder of the bench's workdir that every jail may read
CREATED_AT = b'"created_at":'


@dataclass
class Tally:
    """What the clients of one round saw."""

    ready: int = 0
    frames: int = 0
    latencies: list[float] = field(default_factory=list)
    last_at: float = 0.0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Round:
    """One target at one client count."""

    target: str
    clients: int
    events: int
    delivered: int
    seconds: float
    p50_ms: float
    p99_ms: float
    rss_per_conn_kib: float
    redis_per_conn_kib: float
    redis_clients_added: int
    errors: int
    client_cpu: float = 0.0  # the bench client's CPU seconds per second of the window

    @property
    def frames_per_second(self) -> float:
        """Frames handed to clients per second of the delivery window."""
        return self.delivered / self.seconds if self.seconds else 0.0


def created_at(line: bytes) -> float | None:
    """The first `created_at` (epoch seconds) in some SSE bytes, without parsing JSON."""
    start = line.find(CREATED_AT)
    if start < 0:
        return None
    # The seed's frames have a space after the colon (json.dumps defaults), ours do not.
    start = line.find(b'"', start + len(CREATED_AT)) + 1
    end = line.find(b'"', start)
    if start == 0 or end < 0:  # cut off at the end of a chunk
        return None
    return datetime.fromisoformat(line[start:end].decode()).timestamp()


async def watch(
    session: aiohttp.ClientSession,
    url: str,
    headers: dict[str, str],
    ready_on_first_frame: bool,
    gate: asyncio.Semaphore,
    tally: Tally,
    go_at: list[float],
) -> None:
    """One client: connect (a few hundred at a time), then count live frames to the end."""
    await gate.acquire()
    released = False
    try:
        async with session.get(url, headers=headers) as response:
            if response.status != 200:
                tally.errors.append(f"{response.status} {await response.text()}")
                return
            if not ready_on_first_frame:
                tally.ready += 1
                gate.release()
                released = True
            async for chunk in response.content.iter_any():
                if not released and b"data:" in chunk:
                    tally.ready += 1
                    gate.release()
                    released = True
                if go_at:
                    count_live(chunk, tally, go_at[0])
    except (aiohttp.ClientError, TimeoutError) as exc:
        tally.errors.append(repr(exc))
    finally:
        if not released:
            gate.release()


def print_errors(target: str, clients: int, errors: list[str]) -> None:
    """What went wrong for the clients that saw an error, each distinct message once."""
    for message, count in Counter(e[:300] for e in errors).most_common(10):
        print(f"{target}, {clients} clients: {count} x {message}", flush=True)


def count_live(chunk: bytes, tally: Tally, go_at: float) -> None:
    """Count the frames of a chunk received after go; sample the latency of its oldest.

    Parsing every frame would make this client, not the server, the bottleneck; the
    first frame of a chunk is the one that waited longest, so the sample is pessimistic.
    """
    frames = chunk.count(b"\ndata:") + chunk.startswith(b"data:")
    stamp = created_at(chunk)
    if not frames or stamp is None or stamp < go_at:
        return
    now = time.time()
    tally.frames += frames
    # Every frame of the chunk is counted with the oldest one's latency.
    tally.latencies.extend([now - stamp] * frames)
    tally.last_at = now


def tree_rss(pid: int) -> int:
    """Resident memory of a process and all its children, in bytes."""
    process = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [process, *process.children(recursive=True)])


async def redis_memory(client: aioredis.Redis) -> tuple[int, int]:
    """Redis's used memory (bytes) and connected clients."""
    info = await client.info()
    return int(info["used_memory"]), int(info["connected_clients"])


@dataclass
class Target:
    """How to run one round against one implementation."""

    name: str
    server_pid: int
    prepare: Callable[[Path, int, float], Awaitable[tuple[str, Callable[[], Awaitable[None]]]]]
    headers: Callable[[int], dict[str, str]]
    ready_on_first_frame: bool


async def run_round(
    target: Target, clients: int, events: int, interval: float, redis: aioredis.Redis, tmp: Path
) -> Round:
    """Connect every client, measure idle memory, emit the events, wait for the end."""
    go_file = tmp / GO_FILES / f"go-{uuid4().hex}"
    url, start_events = await target.prepare(go_file, events, interval)
    tally, go_at = Tally(), list[float]()
    gate = asyncio.Semaphore(OPEN_AT_ONCE)
    rss_before, (redis_before, redis_clients_before) = (
        tree_rss(target.server_pid),
        await redis_memory(redis),
    )
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=60, sock_read=events * interval + 120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        watchers = [
            asyncio.create_task(
                watch(
                    session,
                    url,
                    target.headers(i),
                    target.ready_on_first_frame,
                    gate,
                    tally,
                    go_at,
                )
            )
            for i in range(clients)
        ]
        while tally.ready + len(tally.errors) < clients:  # noqa: ASYNC110 (counters, no event)
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)
        rss_after, (redis_after, redis_clients_after) = (
            tree_rss(target.server_pid),
            await redis_memory(redis),
        )
        go_at.append(time.time())
        cpu_at_go = time.process_time()
        go_file.touch()
        await start_events()
        await asyncio.wait_for(asyncio.gather(*watchers), events * interval * 3 + 120)
        client_cpu = time.process_time() - cpu_at_go
    print_errors(target.name, clients, tally.errors)
    latencies = sorted(tally.latencies) or [0.0]
    window = max(tally.last_at - go_at[0], 1e-9)
    return Round(
        target=target.name,
        clients=clients,
        events=events,
        delivered=tally.frames,
        seconds=window,
        p50_ms=statistics.median(latencies) * 1000,
        p99_ms=latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        rss_per_conn_kib=(rss_after - rss_before) / clients / 1024,
        redis_per_conn_kib=(redis_after - redis_before) / clients / 1024,
        redis_clients_added=redis_clients_after - redis_clients_before,
        errors=len(tally.errors),
        client_cpu=client_cpu / window,
    )


async def submit_ticker(platform: Platform, task_id: str, instruction: str) -> str:
    """A run of the `ticker` template on the task; its id."""
    body = {
        "instruction": instruction,
        "executors": [{"type": "command", "options": {"template": "ticker"}}],
    }
    async with httpx.AsyncClient(
        base_url=platform.gateway.url, headers=platform.bearer("developer"), timeout=60
    ) as client:
        accepted = await client.post(f"/v1/tasks/{task_id}/runs", json=body)
    run_id: str = accepted.json()["runs"][0]["id"]
    return run_id


async def our_target(platform: Platform, task_id: str) -> Target:
    """Runs of the `ticker` template through the real platform."""
    tokens: dict[int, str] = {}

    async def prepare(
        go_file: Path, events: int, interval: float
    ) -> tuple[str, Callable[[], Awaitable[None]]]:
        run_id = await submit_ticker(platform, task_id, f"{go_file} {events} {interval}")

        async def nothing_to_do() -> None:
            """The agent-runner emits the events once the go-file exists."""

        return f"{platform.gateway.url}/v1/runs/{run_id}/stream", nothing_to_do

    def headers(i: int) -> dict[str, str]:
        if i not in tokens:
            tokens[i] = platform.mint_token("viewer", subject=f"watcher-{i}", ttl=7200)
        return {"authorization": f"Bearer {tokens[i]}"}

    return Target("ours", platform.gateway.app.pid, prepare, headers, False)


def baseline_event(run_id: str, seq: int, kind: EventType, data: dict[str, Any]) -> str:
    """The same document our frames carry, as the seed's worker would publish it."""
    return json.dumps(
        {
            "run_id": run_id,
            "task_id": run_id,
            "seq": seq,
            "turn": 1,
            "attempt": 1,
            "type": kind.value,
            "data": data,
            "created_at": datetime.now(UTC).isoformat(),
        }
    )


def baseline_target(url: str, pid: int, redis: aioredis.Redis) -> Target:
    """The seed's SSE endpoint; the bench publishes as its worker would."""

    async def prepare(
        go_file: Path, events: int, interval: float
    ) -> tuple[str, Callable[[], Awaitable[None]]]:
        run_id = str(uuid4())

        async def publish_all() -> None:
            channel = events_channel(run_id)
            for seq in range(1, events + 1):
                line = LogData(stream="stdout", lines=[f"tick {seq}"]).model_dump()
                await redis.publish(channel, baseline_event(run_id, seq, EventType.LOG, line))
                await asyncio.sleep(interval)
            end = {"summary": "done", "files_changed": []}
            await redis.publish(
                channel, baseline_event(run_id, events + 1, EventType.COMPLETED, end)
            )

        return f"{url}/v1/runs/{run_id}/stream", publish_all

    return Target("seed", pid, prepare, lambda _: {}, True)


async def replay_through_gateway(
    platform: Platform, task_id: str, events: int
) -> tuple[float, float, int]:
    """Seconds to stream a finished run of `events` events from the start, and the floor."""
    engine = create_async_engine(platform.database_url)
    try:
        # A ticker whose go-file never appears: the run holds still while the bench
        # writes its event log (any other run would end, and its stream with it).
        run_id = UUID(await submit_ticker(platform, task_id, "/nonexistent/go-file 0 1"))
        await fill_event_log(engine, run_id, events)
        # Let the relay publish the new events and the gateway take them in first: the
        # replay is measured alone, not against 10 000 live deliveries.
        await outbox_drained(engine)
        await live_deliveries_settled(platform)
        viewer = platform.bearer("viewer")
        started = time.perf_counter()
        received = 0
        async with (
            httpx.AsyncClient(timeout=120) as client,
            client.stream(
                "GET", f"{platform.gateway.url}/v1/runs/{run_id}/stream", headers=viewer
            ) as response,
        ):
            async for line in response.aiter_lines():
                received += line.startswith("data:")
        ours = time.perf_counter() - started
        started = time.perf_counter()
        async with engine.connect() as conn:
            after = 0
            while page := await read_events(conn, run_id, after, 1000):
                frames = [encode(e) for e in page]
                after = page[-1].seq
        floor = time.perf_counter() - started
        assert frames
    finally:
        await engine.dispose()
    return ours, floor, received


async def outbox_drained(engine: Any) -> None:
    """Until every outbox row has been published, plus a moment for the fan-out."""
    while True:
        async with engine.connect() as conn:
            pending = await conn.scalar(
                select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))
            )
        if not pending:
            break
        await asyncio.sleep(0.5)


async def gateway_counters(platform: Platform) -> dict[str, int]:
    """The gateway's metrics (open streams, live messages, gaps filled, dropped clients)."""
    admin = platform.bearer("admin")
    async with httpx.AsyncClient(base_url=platform.gateway.url, headers=admin) as client:
        counters: dict[str, int] = (await client.get("/v1/gateway/metrics")).json()
        return counters


async def live_deliveries_settled(platform: Platform) -> None:
    """Until the gateway's count of live messages stops moving for two seconds."""
    seen = -1
    while (now := (await gateway_counters(platform))["live_messages"]) != seen:
        seen = now
        await asyncio.sleep(2)


async def fill_event_log(engine: Any, run_id: UUID, events: int) -> None:
    """`events` log events then a `completed` one, in pages of a thousand."""
    # Written as the runner would: the platform's agent-runner relay publishes them.
    transactions = Transactions(engine, PolledOutbox("agent-runner"))
    for first in range(0, events, 1000):
        batch = [
            NewEvent(EventType.LOG, LogData(stream="stdout", lines=[f"line {n}"]))
            for n in range(first, min(first + 1000, events))
        ]
        async with transactions.begin() as work:
            await append_events(work, run_id, batch)
    async with transactions.begin() as work:
        done = CompletedData(summary="replayed", files_changed=[])
        await append_events(work, run_id, [NewEvent(EventType.COMPLETED, done)])


@dataclass(frozen=True)
class Stage:
    """Everything a measurement needs: the platform and its task, both targets, Redis."""

    platform: Platform
    task_id: str
    ours: Target
    seed: Target
    redis: aioredis.Redis


@contextlib.asynccontextmanager
async def both_targets(workdir: Path) -> AsyncIterator[Stage]:
    """Our four services with sidecars and the seed's API, on one Postgres and one Redis."""
    with backing_services() as backing, redis_process() as (redis_host, _):
        databases = DatabaseFactory(backing.database_url)
        await databases.prepare_template()
        env = {
            "DURSOR_COMMAND_TEMPLATES": json.dumps(COMMAND_TEMPLATES | {"ticker": TICKER}),
            "DURSOR_LOG_BATCH_SECONDS": "0.01",
            "DURSOR_MAX_ACTIVE_RUNS_PER_USER": "100000",
            "DURSOR_MAX_ACTIVE_RUNS_PER_TASK": "100000",
            # The jail has a /tmp of its own: the ticker sees the go-files through this bind.
            "DURSOR_SANDBOX_READ_ONLY": json.dumps([str(workdir / GO_FILES)]),
        }
        (workdir / "ours").mkdir()
        (workdir / GO_FILES).mkdir()
        url = await databases.fresh()
        platform = Platform(
            workdir / "ours",
            url,
            redis_host,
            OURS_REDIS_DB,
            env=env,
            service_database_urls=databases.service_urls(url),
        )
        settings = BaselineSettings(
            await databases.fresh(), f"redis://{redis_host}/{BASELINE_REDIS_DB}", "file:///dev/null"
        )
        await create_tables(settings.database_url)
        port = free_port()
        api = start_process(
            [
                *[sys.executable, "-m", "uvicorn", "bench.celery_baseline.api:create_app"],
                *["--factory", "--host", "127.0.0.1", "--port", str(port), "--no-access-log"],
                *["--log-level", "warning", "--backlog", "8192"],
            ],
            settings.as_env(),
            workdir / "baseline-api.log",
        )
        host, _, redis_port = redis_host.rpartition(":")
        redis = aioredis.Redis(host=host, port=int(redis_port), db=BASELINE_REDIS_DB)
        try:
            started = [platform.start(app_id) for app_id in APPS]
            await asyncio.gather(*(platform.wait_ready(r) for r in started))
            await wait_until_up(f"http://127.0.0.1:{port}/healthz")
            task_id = await platform.new_task(f"file://{make_remote(workdir / 'remote')}", "fan")
            ours = await our_target(platform, task_id)
            seed = baseline_target(f"http://127.0.0.1:{port}", api.pid, redis)
            yield Stage(platform, task_id, ours, seed, redis)
        finally:
            await redis.aclose()
            stop_process(api)
            platform.stop_all()
            await databases.drop_all()


def rate_for(
    clients: int, seconds: float, frames_per_second: int, rate: float | None = None
) -> tuple[int, float]:
    """Events and interval: `rate` events/s if given, else about `frames_per_second` in all."""
    per_second = rate or max(1.0, min(20.0, frames_per_second / clients))
    return max(2, int(per_second * seconds)), 1 / per_second


def table(rounds: list[Round]) -> str:
    """Markdown rows, one per round, with ours/seed ratios per client count."""
    lines = [
        "| clients | target | events | delivered | frames/s | p50 ms | p99 ms | RSS KiB/conn "
        "| Redis KiB/conn | Redis clients added | errors | client CPU |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rounds:
        lines.append(
            f"| {r.clients} | {r.target} | {r.events} | {r.delivered}/{r.events * r.clients} "
            f"| {r.frames_per_second:.0f} | {r.p50_ms:.1f} | {r.p99_ms:.1f} "
            f"| {r.rss_per_conn_kib:.1f} | {r.redis_per_conn_kib:.1f} "
            f"| {r.redis_clients_added} | {r.errors} | {r.client_cpu:.2f} |"
        )
    for clients in sorted({r.clients for r in rounds}):
        ours, seed = (
            next(r for r in rounds if (r.target, r.clients) == (t, clients))
            for t in ("ours", "seed")
        )
        memory = ratio(
            ours.rss_per_conn_kib + ours.redis_per_conn_kib,
            seed.rss_per_conn_kib + seed.redis_per_conn_kib,
        )
        lines.append(
            f"\n{clients} clients, ours/seed: frames/s "
            f"{ratio(ours.frames_per_second, seed.frames_per_second)}, "
            f"p50 {ratio(ours.p50_ms, seed.p50_ms)}, p99 {ratio(ours.p99_ms, seed.p99_ms)}, "
            f"memory per connection (process + Redis) {memory}"
        )
    return "\n".join(lines)


def ratio(ours: float, baseline: float) -> str:
    """ours/baseline, two decimals."""
    return f"{ours / baseline:.2f}" if baseline > 0 else "n/a"


def raise_open_files_limit() -> None:
    """Thousands of sockets on both ends: lift the soft limit to the hard one."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def main(arguments: argparse.Namespace) -> None:
    """Rounds at every client count, alternating targets, then the replay."""
    raise_open_files_limit()
    workdir = Path(tempfile.mkdtemp(prefix="dursor-fanout-"))
    rounds: list[Round] = []
    try:
        async with both_targets(workdir) as stage:
            for clients in arguments.clients:
                events, interval = rate_for(
                    clients, arguments.seconds, arguments.frames_per_second, arguments.rate
                )
                order = (stage.seed, stage.ours) if clients % 2 else (stage.ours, stage.seed)
                for target in order:
                    result = await run_round(
                        target, clients, events, interval, stage.redis, workdir
                    )
                    print(result, flush=True)
                    rounds.append(result)
            print("gateway counters:", await gateway_counters(stage.platform), flush=True)
            replay, floor, received = await replay_through_gateway(
                stage.platform, stage.task_id, arguments.replay
            )
    finally:
        if arguments.keep_workdir:
            print(f"workdir kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(table(rounds))
    print(
        f"\nreplay of {arguments.replay} events + end through the gateway: {replay:.2f} s "
        f"({received} frames, {received / replay:.0f} events/s); reading and encoding the "
        f"same rows directly: {floor:.2f} s; ratio {ratio(replay, floor)}"
    )


def parse_arguments() -> argparse.Namespace:
    """Client counts, round length, offered load and replay size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[100, 1000, 5000])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each round")
    parser.add_argument(
        "--frames-per-second",
        type=int,
        default=20000,
        help="offered frames per second over all clients (events/s = this / clients, 1..20)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="events per second of the run, for both targets (overrides --frames-per-second)",
    )
    parser.add_argument("--replay", type=int, default=10_000, help="events in the replayed run")
    parser.add_argument(
        "--keep-workdir", action="store_true", help="keep the services' logs for a look"
    )
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_arguments()))
