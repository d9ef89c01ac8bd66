"""Where the submit -> `running` time goes, from timestamps both sides already record.

Every clock is this machine's wall clock: the client's send time; Postgres `now()`
(the start of the transaction that wrote a row: the run's insert, the claim's
`started_at`; `run_events.created_at`); the Redis stream entry ids of Dapr's topics; and
our services' JSON request logs (end time and duration of each request, tied to the run by
the trace id the outbox carries along).
"""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import redis.asyncio as redis
from sqlalchemy import text

from bench.submit_latency import Sample, percentile
from dursor_kit.db.engine import create_engine

OUR_TIMESTAMPS = text(
    """
    SELECT r.id::text AS run_id, r.queued_at, r.started_at,
           queued.created_at AS queued_appended,
           event.created_at AS running_appended, event.seq AS running_seq
    FROM runs r
    JOIN run_events queued
      ON queued.run_id = r.id AND queued.type = 'status' AND queued.data->>'status' = 'queued'
    JOIN run_events event
      ON event.run_id = r.id AND event.type = 'status' AND event.data->>'status' = 'running'
    WHERE r.id::text = ANY(:ids)
    """
)
SEED_TIMESTAMPS = text(
    "SELECT id::text AS run_id, created_at, started_at FROM seed_runs WHERE id::text = ANY(:ids)"
)
OUR_SEGMENTS = (
    "POST sent -> gateway app receives it",
    "gateway: token check, invoke through 2 daprd -> run-api app receives it",
    "run-api: token check, idempotency, validation -> insert transaction begins",
    "run-api tx: task, message, run -> `queued` event appended",
    "outbox rows, limit locks and counts -> run-api logs `runs accepted`",
    "commit, hand-off to the relay, publish through daprd -> run-requested XADD",
    "XADD -> claim tx begins (daprd XREADGROUP, HTTP to the runner, handler)",
    "claim tx: run to running, attempt row -> `running` event appended",
    "commit, hand-off to the relay, publish through daprd -> `running` XADD",
    "XADD -> client parses `running` (daprd, gateway, hub or gap read, SSE)",
)
SEED_SEGMENTS = (
    "POST sent -> API's insert transaction begins",
    "-> worker's update begins (commit, send_task, broker, prefork child)",
    "-> client parses `running` (commit, PUBLISH or initial frame, SSE)",
)


@dataclass
class Breakdown:
    """Milliseconds per segment over the runs of a phase, and what was odd about them."""

    segments: dict[str, list[float]]
    notes: list[str] = field(default_factory=list)

    def add(self, points: Sequence[float | None]) -> None:
        """One run's moments in path order; a segment with a missing end is left out."""
        for name, (earlier, later) in zip(self.segments, itertools.pairwise(points), strict=True):
            if earlier is not None and later is not None:
                self.segments[name].append((later - earlier) * 1000)


@dataclass
class TraceTimes:
    """Request start times of one trace (one submitted run) in our services' logs."""

    starts: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    accepted: float | None = None
    no_free_slot: bool = False  # the runner left the run queued for its pull loop


def _moment(entry: dict[str, Any]) -> float:
    return datetime.fromisoformat(entry["timestamp"]).timestamp()


def _entries(path: Path) -> list[dict[str, Any]]:
    entries = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            entries.append(json.loads(line))
    return entries


def _request_key(app: str, entry: dict[str, Any]) -> str | None:
    path = entry.get("path", "")
    if path.startswith("/dapr/"):
        return f"{app} {path}"
    if entry.get("method") == "POST" and path.endswith("/runs"):
        return f"{app} submit"
    return None


def read_traces(logs: Path) -> dict[str, TraceTimes]:
    """run id -> its trace's request start times in the gateway, run-api and runner logs."""
    by_trace: dict[str, TraceTimes] = defaultdict(TraceTimes)
    run_traces: dict[str, str] = {}
    for app in ("events-gateway", "run-api", "agent-runner"):
        for entry in _entries(logs / f"{app}-0.log"):
            trace = by_trace[entry.get("trace_id", "")]
            if entry.get("event") == "runs accepted":
                trace.accepted = _moment(entry)
                run_traces |= dict.fromkeys(entry["run_ids"], entry["trace_id"])
            elif entry.get("event") == "no free slot; run stays queued":
                trace.no_free_slot = True
            elif entry.get("event") == "request" and (key := _request_key(app, entry)):
                trace.starts[key].append(_moment(entry) - entry["ms"] / 1000)
    return {run_id: by_trace[trace] for run_id, trace in run_traces.items()}


async def _rows(database_url: str, query: Any, samples: Sequence[Sample]) -> dict[str, Any]:
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            result = await conn.execute(query, {"ids": [s.run_id for s in samples]})
            return {row.run_id: row for row in result}
    finally:
        await engine.dispose()


def _seen(sample: Sample) -> float | None:
    if sample.latency_ms is None:
        return None
    return sample.sent_wall + sample.latency_ms / 1000


def _first(starts: list[float]) -> float | None:
    return min(starts, default=None)


@dataclass(frozen=True)
class StreamEntry:
    """When Redis appended a message (ms resolution, midpoint) and its place in the stream."""

    moment: float
    position: int


async def read_stream_entries(redis_url: str) -> dict[tuple[str, str], StreamEntry]:
    """(run id, event seq or "requested") -> its first entry in the Dapr topic streams."""
    client = redis.from_url(redis_url)
    found: dict[tuple[str, str], StreamEntry] = {}
    try:
        for topic in ("run-requested", "run-events"):
            entries = cast(list[tuple[bytes, dict[bytes, bytes]]], await client.xrange(topic))
            for position, (entry_id, fields) in enumerate(entries):
                data = json.loads(fields[b"data"])["data"]
                key = "requested" if topic == "run-requested" else str(data["seq"])
                moment = int(entry_id.split(b"-")[0]) / 1000 + 0.0005
                found.setdefault((data["run_id"], key), StreamEntry(moment, position))
    finally:
        await client.aclose()
    return found


def our_points(
    sample: Sample, row: Any, trace: TraceTimes, entries: dict[tuple[str, str], StreamEntry]
) -> list[float | None]:
    """The moments a run passed on its way to the client, in path order."""

    def xadd(key: str) -> float | None:
        entry = entries.get((sample.run_id, key))
        return entry.moment if entry else None

    return [
        sample.sent_wall,
        _first(trace.starts["events-gateway submit"]),
        _first(trace.starts["run-api submit"]),
        row.queued_at.timestamp(),
        row.queued_appended.timestamp(),
        trace.accepted,
        xadd("requested"),
        row.started_at.timestamp(),
        row.running_appended.timestamp(),
        xadd(str(row.running_seq)),
        _seen(sample),
    ]


def overtaken(run_id: str, seq: int, entries: dict[tuple[str, str], StreamEntry]) -> bool:
    """True when the event after `seq` reached the stream before it (parallel bulk publish)."""
    this, after = entries.get((run_id, str(seq))), entries.get((run_id, str(seq + 1)))
    return this is not None and after is not None and after.position < this.position


@dataclass(frozen=True)
class OurRecords:
    """Where our platform left its timestamps."""

    database_url: str
    redis_url: str
    logs: Path


async def our_breakdown(records: OurRecords, samples: Sequence[Sample]) -> Breakdown:
    """Per segment of our path, the milliseconds of every run that reached `running`."""
    rows = await _rows(records.database_url, OUR_TIMESTAMPS, samples)
    traces, entries = read_traces(records.logs), await read_stream_entries(records.redis_url)
    breakdown = Breakdown({name: [] for name in OUR_SEGMENTS})
    out_of_order = no_slot = 0
    for sample in samples:
        row, trace = rows.get(sample.run_id), traces.get(sample.run_id)
        if row is not None and trace is not None:
            breakdown.add(our_points(sample, row, trace, entries))
            out_of_order += overtaken(sample.run_id, row.running_seq, entries)
            no_slot += trace.no_free_slot
    breakdown.notes += [
        f"{out_of_order} of {len(samples)} runs: the event after `running` was appended to "
        "the stream first (Dapr publishes a bulk request's entries in parallel)",
        f"{no_slot} of {len(samples)} runs found no free runner slot when run-requested "
        "arrived and waited for the runner's pull loop",
    ]
    return breakdown


async def baseline_breakdown(database_url: str, samples: Sequence[Sample]) -> Breakdown:
    """Per segment of the seed's path, the milliseconds of every run that reached `running`."""
    rows = await _rows(database_url, SEED_TIMESTAMPS, samples)
    breakdown = Breakdown({name: [] for name in SEED_SEGMENTS})
    for sample in samples:
        row = rows.get(sample.run_id)
        if row is not None:
            points = [sample.sent_wall, row.created_at.timestamp(), row.started_at.timestamp()]
            breakdown.add([*points, _seen(sample)])
    return breakdown


def format_breakdown(name: str, breakdown: Breakdown) -> str:
    """One line per segment: p50 and p99 in ms (p99s do not add up), then the notes."""
    lines = [f"where the time goes, {name} (p50 / p99 ms, runs):"]
    for segment, values in breakdown.segments.items():
        if values:
            p50, p99 = percentile(values, 50), percentile(values, 99)
            lines.append(f"  {segment:80}{p50:>7.1f} /{p99:>7.1f}{len(values):>5}")
            if early := sum(v < 0 for v in values):
                lines.append(f"    ({early} negative: that run took another way, see README)")
    lines += [f"  {note}" for note in breakdown.notes]
    return "\n".join(lines)
