"""The verdict of a fault: what the database and the clients say happened to every run."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from dursor_store.schema import run_attempts, run_events, runs
from tests.support.chaos.load import TERMINAL, Load, Watcher

ACTIVE = ("queued", "running")


@dataclass
class Verdict:
    """Per fault: the figures of the results table and the invariants they prove."""

    fault: str
    accepted: int = 0
    refused: int = 0
    lost: int = 0
    doubled: int = 0
    stuck: int = 0
    retried: int = 0
    failed: int = 0
    mismatched: int = 0
    unended_watchers: int = 0
    reconnects: int = 0
    replayed: int = 0
    server_errors: int = 0
    bad_server_errors: int = 0
    connection_errors: int = 0
    unnoticed: int = 0
    recovered: bool = True
    recovery_seconds: float = 0.0
    drain_seconds: float = 0.0
    failure_reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def holds(self) -> bool:
        """Every invariant of the issue held for this fault."""
        return not (
            self.refused  # a submission given up or answered 4xx: the load was not what was asked
            or self.lost
            or self.doubled
            or self.stuck
            or self.mismatched
            or self.unended_watchers
            or self.bad_server_errors
            or self.unnoticed
            or not self.recovered
        )

    def row(self) -> dict[str, Any]:
        """The figures as a flat record (for the table and the JSON output)."""
        return {k: v for k, v in self.__dict__.items() if k != "failure_reasons"} | {
            "holds": self.holds
        }


async def wait_terminal(engine: AsyncEngine, run_ids: set[str], timeout: float) -> set[str]:
    """Poll until every run is terminal; the ids still queued or running at the deadline."""
    ids = [UUID(r) for r in run_ids]
    deadline = time.monotonic() + timeout
    while True:
        async with engine.connect() as conn:
            active = await conn.execute(
                select(runs.c.id).where(runs.c.id.in_(ids), runs.c.status.in_(ACTIVE))
            )
            left = {str(row.id) for row in active}
        if not left or time.monotonic() > deadline:
            return left
        await asyncio.sleep(0.5)


async def idle_runs(engine: AsyncEngine, run_ids: set[str], slots: int) -> set[str]:
    """Runs nobody works on right now: `running` on an expired lease, or `queued` with a slot free.

    A run queued behind busy slots waits for capacity, which is not a fault's doing.
    """
    ids = [UUID(r) for r in run_ids]
    async with engine.connect() as conn:
        running = await conn.scalar(
            select(func.count()).select_from(runs).where(runs.c.status == "running")
        )
        rows = await conn.execute(
            select(runs.c.id, runs.c.status, runs.c.lease_expires_at < func.now()).where(
                runs.c.id.in_(ids), runs.c.status.in_(ACTIVE)
            )
        )
        found = set()
        for run_id, status, expired in rows:
            if (status == "running" and expired) or (status == "queued" and (running or 0) < slots):
                found.add(str(run_id))
    return found


async def stuck_runs(engine: AsyncEngine, run_ids: set[str], slots: int, window: float) -> set[str]:
    """Runs idle (see `idle_runs`) at every look during `window` seconds."""
    stuck = await idle_runs(engine, run_ids, slots)
    deadline = time.monotonic() + window
    while stuck and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        stuck &= await idle_runs(engine, run_ids, slots)
    return stuck


async def judge_runs(engine: AsyncEngine, load: Load, verdict: Verdict) -> None:
    """Lost, doubled, retried and failed runs among those the clients saw accepted."""
    ids = [UUID(r) for r in load.accepted]
    verdict.accepted = len(ids)
    verdict.refused = len(load.refused)
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(runs.c.id, runs.c.status, runs.c.attempt, runs.c.error).where(
                    runs.c.id.in_(ids)
                )
            )
        ).all()
        terminal = Counter(
            str(r.run_id)
            for r in await conn.execute(
                select(run_events.c.run_id).where(
                    run_events.c.run_id.in_(ids), run_events.c.type.in_(TERMINAL)
                )
            )
        )
        succeeded = Counter(
            str(r.run_id)
            for r in await conn.execute(
                select(run_attempts.c.run_id).where(
                    run_attempts.c.run_id.in_(ids), run_attempts.c.status == "succeeded"
                )
            )
        )
        tokens = set(load.accepted.values())
        per_token = await conn.execute(
            select(runs.c.instruction, func.count())
            .where(runs.c.instruction.in_(tokens))
            .group_by(runs.c.instruction)
        )
        created: dict[str, int] = {str(t): int(n) for t, n in per_token.all()}
    expected = Counter(load.accepted.values())
    verdict.lost = len(ids) - len(rows)
    doubled = {r for r, n in terminal.items() if n > 1} | {r for r, n in succeeded.items() if n > 1}
    extra_runs = sum(max(0, created.get(t, 0) - n) for t, n in expected.items())
    verdict.doubled = len(doubled) + extra_runs
    verdict.retried = sum(1 for r in rows if r.attempt > 1)
    failed = [r for r in rows if r.status != "succeeded" and r.status not in ACTIVE]
    verdict.failed = len(failed)
    verdict.failure_reasons = sorted({(r.error or r.status)[:160] for r in failed})


async def event_log(engine: AsyncEngine, run_id: str) -> list[tuple[int, str, int, Any]]:
    """(seq, type, attempt, data) of a run's events up to and with its first terminal one."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(run_events.c.seq, run_events.c.type, run_events.c.attempt, run_events.c.data)
            .where(run_events.c.run_id == UUID(run_id))
            .order_by(run_events.c.seq)
        )
        log: list[tuple[int, str, int, Any]] = []
        for row in rows:
            log.append((row.seq, row.type, row.attempt, row.data))
            if row.type in TERMINAL:
                break
    return log


def seen(watcher: Watcher) -> list[tuple[int, str, int, Any]]:
    """The same tuple for every frame a watcher received."""
    out = []
    for frame in watcher.frames:
        body = json.loads(frame.data)
        assert frame.id == str(body["seq"]), frame
        out.append((body["seq"], frame.event, body["attempt"], body["data"]))
    return out


async def judge_streams(engine: AsyncEngine, load: Load, verdict: Verdict) -> list[str]:
    """Watchers whose frames differ from the event log; returns a description of each."""
    mismatches = []
    for run_id, watcher in load.watchers.items():
        verdict.reconnects += max(0, watcher.connections - 1)
        verdict.replayed += watcher.resumed_frames
        expected = await event_log(engine, run_id)
        got = seen(watcher)
        if got != expected:
            mismatches.append(
                f"{run_id}: saw seqs {[g[0] for g in got]} vs log {[e[0] for e in expected]}"
            )
    verdict.mismatched = len(mismatches)
    return mismatches


def judge_answers(load: Load, verdict: Verdict, window: tuple[float, float]) -> list[str]:
    """5xx answers: allowed only as 503 with Retry-After inside the fault's window."""
    start, end = window
    bad = []
    for answer in load.log.server_errors():
        allowed = answer.status == 503 and answer.retry_after and start <= answer.at <= end
        if not allowed:
            bad.append(f"{answer.what} {answer.status} at {answer.at - start:+.1f}s")
    verdict.server_errors = len(load.log.server_errors())
    lost = Counter(f"{a.what} {a.error}" for a in load.log.answers if a.status == 0)
    verdict.connection_errors = sum(lost.values())
    verdict.notes += [f"connection errors: {kind} x{n}" for kind, n in lost.items()]
    verdict.bad_server_errors = len(bad)
    return bad
