"""The outbox relay on real PostgreSQL while its sidecar is unreachable, beside another relay
and beside another app's relay (each publishes only the rows its own app wrote).

The happy path (publishing through a real daprd into real Redis, across an outage, with
two replicas) is tests/e2e/test_outbox_redis_outage.py; here the sidecar's port has
nothing listening, which is exactly what the relay sees while daprd restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from dursor_contracts.events import EventType, LogData, ProgressData, RunCancelRequestedV1
from dursor_contracts.topics import RUN_CANCEL_REQUESTED
from dursor_kit.db.unit_of_work import PolledOutbox, Transactions
from dursor_kit.sidecar import Sidecar
from dursor_store.eventlog import NewEvent, append_events, read_events
from dursor_store.outbox import HANDOFF_SECONDS, OutboxRelay, backoff_seconds, enqueue
from dursor_store.schema import outbox
from tests.support.backing import free_port
from tests.support.run_api_app import RunApi, bearer, run_api

DEV = bearer("developer", "dev")
ROOT = Path(__file__).resolve().parents[4]


@pytest.fixture
async def api(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[RunApi]:
    """run-api whose own relay never runs (the tests drive relays by hand)."""
    async with run_api(engine, tmp_path, max_active_runs_per_user=100) as app:
        yield app


@pytest.fixture
async def dead_sidecar() -> AsyncIterator[Sidecar]:
    """A sidecar client pointed at a loopback port where nothing listens."""
    async with httpx.AsyncClient(timeout=2.0) as http:
        yield Sidecar(http, free_port())


async def submit_runs(api: RunApi, count: int) -> list[str]:
    """Accepted runs (each enqueues run-requested and a run-events message)."""
    repo = await api.client.post("/v1/repos", json={"url": "file:///srv/o"}, headers=DEV)
    task = await api.client.post(
        "/v1/tasks", json={"repo_id": repo.json()["id"], "title": "t"}, headers=DEV
    )
    accepted = await api.client.post(
        f"/v1/tasks/{task.json()['id']}/runs",
        json={"instruction": "x", "executors": [{"type": "codex"}] * count},
        headers=DEV,
    )
    assert accepted.status_code == 202
    return [r["id"] for r in accepted.json()["runs"]]


async def outbox_rows(engine: AsyncEngine) -> list[Any]:
    """Every outbox row with its delivery bookkeeping and seconds until due."""
    async with engine.connect() as conn:
        return list(
            (
                await conn.execute(
                    select(
                        outbox.c.id,
                        outbox.c.source,
                        outbox.c.topic,
                        outbox.c.sent_at,
                        outbox.c.attempts,
                        outbox.c.last_error,
                        (outbox.c.available_at - text("now()")).label("due_in"),
                    ).order_by(outbox.c.id)
                )
            ).all()
        )


async def test_messages_wait_with_backoff_while_the_sidecar_is_down(
    api: RunApi, dead_sidecar: Sidecar
) -> None:
    await submit_runs(api, 3)
    relay = OutboxRelay(api.engine, dead_sidecar, "run-api")
    # Rows that already failed 4 times wait 4 s: a second round right after the first
    # finds nothing due even when a loaded machine stalls the test between the two.
    async with api.engine.begin() as conn:
        await conn.execute(update(outbox).values(attempts=4))

    first_round = await relay.relay_once()
    rows = await outbox_rows(api.engine)
    second_round = await relay.relay_once()  # nothing is due yet

    assert first_round == 0
    # Per run: run-lifecycle `accepted`, run-requested and its `queued` run event.
    assert len(rows) == 9
    for row in rows:
        assert row.sent_at is None
        assert row.attempts == 5
        assert row.last_error == "publish failed"
        assert 0 < row.due_in.total_seconds() <= backoff_seconds(4)
    assert second_round == 0
    assert [r.attempts for r in await outbox_rows(api.engine)] == [5] * 9


async def _database_now(engine: AsyncEngine) -> datetime:
    async with engine.connect() as conn:
        value: datetime = (await conn.execute(text("SELECT clock_timestamp()"))).scalar_one()
    return value


async def test_backoff_grows_and_is_capped(api: RunApi, dead_sidecar: Sidecar) -> None:
    await submit_runs(api, 1)
    relay = OutboxRelay(api.engine, dead_sidecar, "run-api")
    # The relay postpones a row to its transaction's now() + backoff: that now() lies
    # between the database clock read before and after the round, whatever the load.
    windows = []
    for _ in range(8):
        async with api.engine.begin() as conn:
            await conn.execute(text("UPDATE outbox SET available_at = now()"))
        before = await _database_now(api.engine)
        await relay.relay_once()
        after = await _database_now(api.engine)
        async with api.engine.connect() as conn:
            first_row = select(outbox.c.available_at).order_by(outbox.c.id).limit(1)
            due = (await conn.execute(first_row)).scalar_one()
        windows.append(((due - after).total_seconds(), (due - before).total_seconds()))
    schedule = [backoff_seconds(attempts) for attempts in range(8)]
    assert schedule == sorted(schedule)
    assert schedule[0] == pytest.approx(0.25)
    assert schedule[-1] == pytest.approx(10.0)
    for (earliest, latest), backoff in zip(windows, schedule, strict=True):
        assert earliest <= backoff <= latest, (windows, schedule)
    assert (await outbox_rows(api.engine))[0].attempts == 8


async def test_a_second_relay_skips_what_the_first_holds(
    api: RunApi, dead_sidecar: Sidecar
) -> None:
    await submit_runs(api, 4)
    ids = [r.id for r in await outbox_rows(api.engine)]
    held = ids[:3]
    relay = OutboxRelay(api.engine, dead_sidecar, "run-api")
    async with api.engine.connect() as other_replica, other_replica.begin():
        # What another replica's relay holds while it publishes those rows.
        await other_replica.execute(
            select(outbox.c.id).where(outbox.c.id.in_(held)).with_for_update()
        )
        await relay.relay_once()
    attempts = {r.id: r.attempts for r in await outbox_rows(api.engine)}
    assert [attempts[i] for i in held] == [0, 0, 0]
    assert all(attempts[i] == 1 for i in ids[3:])


async def test_each_relay_publishes_only_the_rows_its_own_app_wrote(
    api: RunApi, dead_sidecar: Sidecar
) -> None:
    run_ids = await submit_runs(api, 2)
    as_runner = Transactions(api.engine, PolledOutbox("agent-runner"))
    async with as_runner.begin() as work:
        note = NewEvent(EventType.PROGRESS, ProgressData(message="cloning", step="git"))
        await append_events(work, UUID(run_ids[0]), [note])
    before = await outbox_rows(api.engine)
    runner_rows = {r.id for r in before if r.source == "agent-runner"}

    await OutboxRelay(api.engine, dead_sidecar, "agent-runner").relay_once()
    after_runner = {r.id: r.attempts for r in await outbox_rows(api.engine)}
    await OutboxRelay(api.engine, dead_sidecar, "run-api").relay_once()
    after_api = {r.id: r.attempts for r in await outbox_rows(api.engine)}

    # run-api wrote each run's `accepted`, run-requested and queued event; the runner its note.
    assert sorted((r.source, r.topic) for r in before) == [
        ("agent-runner", "run-events"),
        ("run-api", "run-events"),
        ("run-api", "run-events"),
        ("run-api", "run-lifecycle"),
        ("run-api", "run-lifecycle"),
        ("run-api", "run-requested"),
        ("run-api", "run-requested"),
    ]
    assert all(after_runner[i] == (1 if i in runner_rows else 0) for i in after_runner)
    assert all(after_api[i] == 1 for i in after_api)


async def test_agent_output_holding_nul_is_stored_and_announced_with_u_fffd(api: RunApi) -> None:
    (run_id,) = await submit_runs(api, 1)
    as_runner = Transactions(api.engine, PolledOutbox("agent-runner"))
    output = LogData(stream="stdout", lines=["before\x00after", "lone \udcff byte"])
    async with as_runner.begin() as work:
        await append_events(work, UUID(run_id), [NewEvent(EventType.LOG, output)])

    async with api.engine.connect() as conn:
        stored = [e for e in await read_events(conn, UUID(run_id), 0, 10) if e.type == "log"]
        announced = await conn.scalars(
            select(outbox.c.payload).where(outbox.c.source == "agent-runner")
        )
    assert [e.data for e in stored] == [
        {"stream": "stdout", "lines": ["before\ufffdafter", "lone \ufffd byte"]}
    ]
    assert [p["data"]["lines"] for p in announced] == [stored[0].data["lines"]]


async def test_an_app_cannot_enqueue_a_topic_its_sidecar_may_not_publish(api: RunApi) -> None:
    run_id = (await submit_runs(api, 1))[0]
    before = [(r.id, r.source, r.topic) for r in await outbox_rows(api.engine)]
    as_runner = Transactions(api.engine, PolledOutbox("agent-runner"))
    request = RunCancelRequestedV1(run_id=UUID(run_id), reason="no", requested_by="dev")
    with pytest.raises(ValueError, match="agent-runner may not publish run-cancel-requested"):
        async with as_runner.begin() as work:
            await enqueue(work, RUN_CANCEL_REQUESTED, request)
    assert [(r.id, r.source, r.topic) for r in await outbox_rows(api.engine)] == before
    assert len(before) == 3


async def alembic(engine: AsyncEngine, *args: str) -> None:
    """Run the real migrations against the engine's database."""
    url = engine.url.render_as_string(hide_password=False)
    await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "alembic", *args],
        cwd=ROOT,
        env={**os.environ, "DURSOR_DATABASE_URL": url},
        check=True,
        capture_output=True,
    )


async def test_migration_0005_gives_waiting_rows_the_relay_that_may_publish_them(
    engine: AsyncEngine,
) -> None:
    await alembic(engine, "downgrade", "0004_users_role_pinned")
    waiting = {"run-requested", "run-cancel-requested", "run-events", "pr-requested"}
    async with engine.begin() as conn:
        for topic in sorted(waiting):
            await conn.execute(
                text(
                    "INSERT INTO outbox (event_id, pubsub, topic, payload)"
                    " VALUES (:id, 'pubsub', :topic, '{}')"
                ),
                {"id": uuid4(), "topic": topic},
            )
    await alembic(engine, "upgrade", "head")
    async with engine.connect() as conn:
        rows = (await conn.execute(select(outbox.c.topic, outbox.c.source))).all()
        required = await conn.scalar(
            text(
                "SELECT is_nullable FROM information_schema.columns"
                " WHERE table_name = 'outbox' AND column_name = 'source'"
            )
        )
    # run-api's sidecar may publish all four topics, so its relay delivers what waited.
    assert sorted(rows) == sorted((topic, "run-api") for topic in waiting)
    assert required == "NO"


class DyingRelay:
    """A relay that takes the rows a commit hands it and dies before it publishes them."""

    source = "run-api"
    takes_handoffs = True

    def __init__(self) -> None:
        self.handed: list[object] = []

    def notify(self, handed: Sequence[object] = ()) -> None:
        """Take the rows, publish nothing (the process is gone)."""
        self.handed += handed


async def test_rows_handed_to_a_relay_that_dies_wait_out_their_reservation_then_go_out(
    api: RunApi, dead_sidecar: Sidecar
) -> None:
    (run_id,) = await submit_runs(api, 1)
    async with api.engine.begin() as conn:  # the submission's rows are another story
        await conn.execute(update(outbox).values(sent_at=text("now()")))
    async with Transactions(api.engine, DyingRelay()).begin() as work:
        note = NewEvent(EventType.PROGRESS, ProgressData(message="handed", step="git"))
        await append_events(work, UUID(run_id), [note])
    other_replica = OutboxRelay(api.engine, dead_sidecar, "run-api")

    while_reserved = await outbox_rows(api.engine)
    await other_replica.relay_once()  # the row is not due: untouched, not published twice
    untouched = await outbox_rows(api.engine)
    async with api.engine.begin() as conn:  # HANDOFF_SECONDS pass
        await conn.execute(update(outbox).values(available_at=text("now()")))
    await other_replica.relay_once()  # due now: tried (the sidecar is down), kept for later

    (row,) = [r for r in while_reserved if r.sent_at is None]
    assert HANDOFF_SECONDS - 5 < row.due_in.total_seconds() <= HANDOFF_SECONDS
    assert [r.attempts for r in untouched if r.id == row.id] == [0]
    assert [r.attempts for r in await outbox_rows(api.engine) if r.id == row.id] == [1]


async def test_a_running_relay_postpones_handed_rows_it_could_not_publish(
    api: RunApi, dead_sidecar: Sidecar
) -> None:
    (run_id,) = await submit_runs(api, 1)
    relay = OutboxRelay(api.engine, dead_sidecar, "run-api", poll_interval=3600)
    relaying = asyncio.create_task(relay.run())
    await asyncio.sleep(0)  # the relay starts: from now on it takes hand-offs
    try:
        async with Transactions(api.engine, relay).begin() as work:
            note = NewEvent(EventType.PROGRESS, ProgressData(message="handed", step="git"))
            await append_events(work, UUID(run_id), [note])
        await work.published(timeout=30)
        for _ in range(600):  # the failure is recorded right after the publish
            handed = (await outbox_rows(api.engine))[-1]
            if handed.attempts:
                break
            await asyncio.sleep(0.05)
    finally:
        relaying.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await relaying
    assert relay.takes_handoffs is False  # stopped: rows written now are due at once
    assert (handed.topic, handed.sent_at, handed.attempts) == ("run-events", None, 1)
    assert handed.last_error == "publish failed"
    assert handed.due_in.total_seconds() <= backoff_seconds(0)  # the rounds retry it soon
