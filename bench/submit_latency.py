"""The one client both sides of `submit_to_running` are measured with.

A submission: POST the run, open its SSE stream at once, note when a frame says
`running`, read on until the run's end event (or a timeout). What counts as `running`
and as the end differs only in how each side's frames are spelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import statistics
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass

import aiohttp

OUR_END_EVENTS = frozenset({"completed", "failed", "cancelled", "timed_out"})
SEED_END_TYPES = frozenset({"completed", "failed", "cancelled"})


class Seen(enum.Enum):
    """What a frame tells the client."""

    NOTHING = "nothing"
    RUNNING_INITIAL = "initial"  # the seed's first frame: the row's status
    RUNNING_EVENT = "event"  # an event published when the run started
    COMPLETED = "completed"
    FAILED = "failed"  # any other end: failed, cancelled, timed out


@dataclass(frozen=True)
class Frame:
    """One SSE event as an EventSource would dispatch it."""

    event: str
    data: str


def our_frame(frame: Frame) -> Seen:
    """Ours: `event: status` with `data.status == running`, then a terminal event."""
    if frame.event in OUR_END_EVENTS:
        return Seen.COMPLETED if frame.event == "completed" else Seen.FAILED
    if frame.event == "status" and json.loads(frame.data)["data"]["status"] == "running":
        return Seen.RUNNING_EVENT
    return Seen.NOTHING


def seed_frame(frame: Frame) -> Seen:
    """The seed's: an `initial` frame with the row's status, then published events."""
    event = json.loads(frame.data)
    if event.get("type") in SEED_END_TYPES:
        return Seen.COMPLETED if event["type"] == "completed" else Seen.FAILED
    if event.get("status") != "running":
        return Seen.NOTHING
    return Seen.RUNNING_INITIAL if event.get("type") == "initial" else Seen.RUNNING_EVENT


@dataclass(frozen=True)
class Target:
    """Where and how to submit one side's runs."""

    name: str
    base_url: str
    task_id: str
    headers: dict[str, str]
    instruction: str
    classify: Callable[[Frame], Seen]

    def body(self) -> dict[str, object]:
        """One `command` run of the `sleep` template."""
        executor = {"type": "command", "options": {"template": "sleep"}}
        return {"instruction": self.instruction, "executors": [executor]}


@dataclass(frozen=True)
class Sample:
    """One submission as the client saw it (wall-clock times in seconds since the epoch)."""

    run_id: str
    sent_wall: float
    post_ms: float
    open_ms: float | None  # POST sent -> stream headers received
    latency_ms: float | None  # POST sent -> `running` parsed; None if never seen
    via: str  # which frame said `running` first: "initial", "event" or "none"
    run_event: bool  # an event (not only the seed's initial frame) said `running`
    ended: str | None  # "completed" or "failed" if the end event came before the timeout

    def as_json(self) -> dict[str, object]:
        """For the JSON dump."""
        return asdict(self)


async def sse_frames(content: aiohttp.StreamReader) -> AsyncIterator[Frame]:
    """Dispatched events of a stream; comments and `id:`/`retry:` lines are skipped."""
    event, data = "message", list[str]()
    async for raw in content:
        line = raw.decode().rstrip("\r\n")
        if not line:
            if data:
                yield Frame(event, "\n".join(data))
            event, data = "message", []
            continue
        name, _, value = line.partition(":")
        if name == "event":
            event = value.removeprefix(" ")
        elif name == "data":
            data.append(value.removeprefix(" "))


@dataclass
class StreamWatch:
    """What one stream showed, filled in while reading."""

    opened: float | None = None
    running: float | None = None
    via: str = "none"
    run_event: bool = False
    ended: str | None = None

    def note(self, seen: Seen) -> None:
        """Record a classified frame at the current time."""
        if seen in (Seen.RUNNING_INITIAL, Seen.RUNNING_EVENT) and self.running is None:
            self.running, self.via = time.perf_counter(), seen.value
        self.run_event = self.run_event or seen is Seen.RUNNING_EVENT
        if seen in (Seen.COMPLETED, Seen.FAILED):
            self.ended = seen.value


async def watch_stream(
    session: aiohttp.ClientSession, target: Target, run_id: str, watch: StreamWatch
) -> None:
    """Read the run's stream until its end event."""
    url = f"{target.base_url}/v1/runs/{run_id}/stream"
    async with session.get(url, headers=target.headers) as response:
        watch.opened = time.perf_counter()
        response.raise_for_status()
        async for frame in sse_frames(response.content):
            watch.note(target.classify(frame))
            if watch.ended:
                return


async def submit_and_watch(
    session: aiohttp.ClientSession, target: Target, timeout: float
) -> Sample:
    """POST a run, stream it, and time `running` from the moment the POST was sent."""
    sent_wall, sent = time.time(), time.perf_counter()
    url = f"{target.base_url}/v1/tasks/{target.task_id}/runs"
    async with session.post(url, json=target.body(), headers=target.headers) as response:
        body = await response.read()
        if response.status != 202:
            raise RuntimeError(f"{target.name}: POST answered {response.status}: {body[:500]!r}")
    posted = time.perf_counter()
    run_id: str = json.loads(body)["runs"][0]["id"]
    watch = StreamWatch()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(watch_stream(session, target, run_id, watch), timeout)

    def since_sent(moment: float | None) -> float | None:
        return None if moment is None else (moment - sent) * 1000

    return Sample(
        run_id,
        sent_wall,
        (posted - sent) * 1000,
        since_sent(watch.opened),
        since_sent(watch.running),
        watch.via,
        watch.run_event,
        watch.ended,
    )


async def run_block(
    session: aiohttp.ClientSession, target: Target, count: int, in_flight: int
) -> list[Sample]:
    """`count` submissions, `in_flight` at a time (closed loop: one ends, the next starts)."""
    samples: list[Sample] = []
    remaining = iter(range(count))
    timeout = float(target.instruction) + 60.0

    async def client() -> None:
        for _ in remaining:
            samples.append(await submit_and_watch(session, target, timeout))

    await asyncio.gather(*(client() for _ in range(in_flight)))
    return samples


def percentile(values: list[float], pct: int) -> float:
    """The pct-th percentile (inclusive method: p99 of 200 values sits between the top two)."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


@dataclass(frozen=True)
class Summary:
    """Latency statistics of one side in one phase, and how its streams behaved."""

    count: int
    p50: float
    p99: float
    mean: float
    max: float
    via_initial: int
    no_run_event: int
    no_running: int
    not_ended: int
    failed: int

    def row(self) -> str:
        """The table row."""
        return (
            f"{self.p50:>9.1f}{self.p99:>9.1f}{self.mean:>9.1f}{self.max:>9.1f}"
            f"{self.via_initial:>13}{self.no_run_event:>14}{self.no_running:>12}"
            f"{self.not_ended:>11}{self.failed:>8}"
        )


def summarise(samples: list[Sample]) -> Summary:
    """Percentiles over the runs where `running` was seen; the others are counted."""
    latencies = [s.latency_ms for s in samples if s.latency_ms is not None]
    return Summary(
        count=len(samples),
        p50=percentile(latencies, 50),
        p99=percentile(latencies, 99),
        mean=statistics.fmean(latencies),
        max=max(latencies),
        via_initial=sum(s.via == "initial" for s in samples),
        no_run_event=sum(not s.run_event for s in samples),
        no_running=len(samples) - len(latencies),
        not_ended=sum(s.ended is None for s in samples),
        failed=sum(s.ended == "failed" for s in samples),
    )
