"""The hot path's SQL against a database of realistic size: no sequential scan of a big table.

The database holds what months of use leave behind (20 000 runs of 20 users on 100 tasks,
200 000 run events, 100 000 published outbox rows, 20 000 attempts) and a few live runs;
after ANALYZE, the statements that a submission, a claim, an event append, a run read
and an outbox round really execute are captured and each is EXPLAINed. A plan that scans
a whole big table would make that step slower with every run the platform has ever had.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from dursor_contracts.events import EventType, ProgressData
from dursor_kit.db.unit_of_work import PolledOutbox, Transactions
from dursor_kit.sidecar import Sidecar
from dursor_store import run_lifecycle, run_reads
from dursor_store.eventlog import NewEvent, append_events, read_events
from dursor_store.outbox import OutboxRelay
from tests.store.outbox.integration.test_outbox_relay import submit_runs
from tests.support.backing import free_port
from tests.support.run_api_app import RunApi, run_api

BIG_TABLES = {"runs", "run_events", "outbox", "run_attempts"}
HISTORY = """
INSERT INTO repos (id, url, default_branch, created_by)
  VALUES ('00000000-0000-4000-8000-000000000001', 'file:///srv/history', 'main', 'u0');
INSERT INTO tasks (id, repo_id, title, base_branch, created_by)
  SELECT ('00000000-0000-4000-8001-' || lpad(i::text, 12, '0'))::uuid,
         '00000000-0000-4000-8000-000000000001', 'task ' || i, 'main', 'u' || (i % 20)
  FROM generate_series(1, 100) AS i;
INSERT INTO runs (id, task_id, executor_type, instruction, status, max_attempts, branch,
                  created_by)
  SELECT ('00000000-0000-4000-8002-' || lpad(i::text, 12, '0'))::uuid,
         ('00000000-0000-4000-8001-' || lpad((1 + i % 100)::text, 12, '0'))::uuid,
         'codex', 'do it', 'queued', 3, 'dursor/run-' || i, 'u' || (i % 20)
  FROM generate_series(1, 20000) AS i;
UPDATE runs SET status = 'running', started_at = now(), lease_owner = 'w',
                lease_expires_at = now() + interval '1 minute'
  WHERE id::text LIKE '00000000-0000-4000-8002-%';
UPDATE runs SET status = 'succeeded', finished_at = now(), lease_owner = NULL,
                lease_expires_at = NULL, last_seq = 10
  WHERE id::text LIKE '00000000-0000-4000-8002-%';
INSERT INTO run_attempts (run_id, turn, attempt, status, worker, started_at)
  SELECT id, 1, 1, 'running', 'w', now() FROM runs;
UPDATE run_attempts SET status = 'succeeded', finished_at = now();
INSERT INTO run_events (run_id, seq, task_id, turn, attempt, type, data, created_at)
  SELECT r.id, s, r.task_id, 1, 1, 'log', '{"stream": "stdout", "lines": ["x"]}', now()
  FROM runs r, generate_series(1, 10) AS s;
INSERT INTO outbox (event_id, source, pubsub, topic, payload, sent_at)
  SELECT gen_random_uuid(), CASE WHEN i % 2 = 0 THEN 'run-api' ELSE 'agent-runner' END,
         'pubsub-broadcast', 'run-events', '{}', now()
  FROM generate_series(1, 100000) AS i;
"""


@pytest.fixture
async def api(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[RunApi]:
    """run-api on a database that already holds a long history."""
    async with engine.begin() as conn:
        for statement in HISTORY.split(";\n"):
            if statement.strip():
                await conn.execute(text(statement))
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("ANALYZE"))
    async with run_api(engine, tmp_path, max_active_runs_per_user=100) as app:
        yield app


class Captured:
    """The statements an engine ran (reads and writes that look rows up), with parameters."""

    def __init__(self) -> None:
        self.statements: dict[str, Any] = {}

    def __call__(
        self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        if not many and statement.lstrip().upper().startswith(("SELECT", "UPDATE", "WITH")):
            self.statements.setdefault(statement, parameters)


def seq_scans(plan: dict[str, Any]) -> Iterator[str]:
    """Tables a plan (or any plan below it) reads with a sequential scan."""
    if plan.get("Node Type") == "Seq Scan":
        yield str(plan["Relation Name"])
    for child in plan.get("Plans", []):
        yield from seq_scans(child)


async def test_no_hot_statement_scans_a_big_table(api: RunApi) -> None:
    captured = Captured()
    event.listen(api.engine.sync_engine, "before_cursor_execute", captured)
    try:
        run_ids = [UUID(r) for r in await submit_runs(api, 2)]
        runner = Transactions(api.engine, PolledOutbox("agent-runner"))
        async with runner.begin() as work:
            claimed = await run_lifecycle.claim(work, run_ids[0], 1, 1, "w1", timedelta(minutes=1))
        assert claimed is not None
        async with runner.begin() as work:
            claimed_next = await run_lifecycle.claim_next(work, "w2", timedelta(minutes=1))
        assert claimed_next is not None
        assert claimed_next.id == run_ids[1]
        async with runner.begin() as work:
            note = NewEvent(EventType.PROGRESS, ProgressData(message="cloning", step="git"))
            await append_events(work, run_ids[0], [note], claimed.fence("w1"))
        async with api.engine.connect() as conn:
            assert await run_reads.get_run(conn, run_ids[0]) is not None
            assert len(await read_events(conn, run_ids[0], 0, 100)) == 3
        async with httpx.AsyncClient(timeout=2) as http:  # nothing listens: rows postponed
            await OutboxRelay(api.engine, Sidecar(http, free_port()), "agent-runner").relay_once()
    finally:
        event.remove(api.engine.sync_engine, "before_cursor_execute", captured)

    scans = {}
    async with api.engine.connect() as conn:
        for statement, parameters in captured.statements.items():
            result = await conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters)
            plan = result.scalar_one()
            plan = json.loads(plan) if isinstance(plan, str) else plan
            big = sorted(set(seq_scans(plan[0]["Plan"])) & BIG_TABLES)
            if big:
                scans[statement] = big
    assert len(captured.statements) >= 10  # the hot path ran through this engine
    assert scans == {}, json.dumps(scans, indent=1)
