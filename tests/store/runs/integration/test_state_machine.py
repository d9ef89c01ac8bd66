"""The run state machine is enforced by PostgreSQL itself: raw SQL cannot break it.

Every (from, to) status pair is tried with several (turn, attempt) moves through a plain
`UPDATE runs SET …`, the way any service (or a person with psql) could write it. The
expected table below is the design's state machine written out independently of the
trigger: `queued → running → succeeded | failed | cancelled | timed_out`, a lost lease
retries the same turn as the next attempt, a follow-up starts the next turn at attempt 1.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from uuid import UUID, uuid4

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from dursor_store.schema import RUN_STATUSES
from tests.support.databases import DatabaseFactory

TERMINAL = ("succeeded", "failed", "cancelled", "timed_out")
# Every run under test sits at turn 2, attempt 2 (of 3), so moves can go both ways.
FROM_TURN, FROM_ATTEMPT = 2, 2
MOVES = {
    "same turn, same attempt": (2, 2),
    "same turn, next attempt": (2, 3),
    "same turn, previous attempt": (2, 1),
    "next turn, attempt 1": (3, 1),
    "next turn, same attempt": (3, 2),
    "previous turn, same attempt": (1, 2),
    "previous turn, attempt 1": (1, 1),
}


def legal(old: str, new: str, move: str) -> bool:
    """The design's transition table."""
    if old == new or (old == "queued" and new in ("running", "cancelled", "failed")):
        return move == "same turn, same attempt"
    if old == "running" and new in TERMINAL:
        return move == "same turn, same attempt"
    if old == "running" and new == "queued":
        return move == "same turn, next attempt"
    if old in TERMINAL and new == "queued":
        return move == "next turn, attempt 1"
    return False


CASES = [
    pytest.param(old, new, move, id=f"{old}->{new} ({move})")
    for old, new, move in itertools.product(RUN_STATUSES, RUN_STATUSES, MOVES)
]
LEGAL_COUNT = sum(
    legal(old, new, move) for old, new, move in itertools.product(RUN_STATUSES, RUN_STATUSES, MOVES)
)


REPO_ID, TASK_ID = uuid4(), uuid4()


@pytest.fixture(scope="module")
async def machine_engine(databases: DatabaseFactory) -> AsyncIterator[AsyncEngine]:
    """One migrated database for the whole module (hundreds of cases, one task)."""
    engine = create_async_engine(await databases.fresh())
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO repos (id, url, default_branch, created_by) "
                "VALUES (:id, 'file:///sm', 'main', 't')"
            ),
            {"id": REPO_ID},
        )
        await conn.execute(
            text(
                "INSERT INTO tasks (id, repo_id, title, base_branch, created_by) "
                "VALUES (:id, :repo, 'sm', 'main', 't')"
            ),
            {"id": TASK_ID, "repo": REPO_ID},
        )
    yield engine
    await engine.dispose()


async def set_status(
    conn: AsyncConnection, run_id: UUID, status: str, turn: int, attempt: int
) -> None:
    """A raw UPDATE of status, turn and attempt, with the lease that `running` requires."""
    running = status == "running"
    await conn.execute(
        text(
            "UPDATE runs SET status = :status, turn = :turn, attempt = :attempt, "
            "lease_owner = :owner, lease_expires_at = CASE WHEN :running "
            "THEN now() + interval '1 minute' END WHERE id = :id"
        ),
        {
            "status": status,
            "turn": turn,
            "attempt": attempt,
            "owner": "worker-1" if running else None,
            "running": running,
            "id": run_id,
        },
    )


# A legal path from a new run to each state at turn 2, attempt 2.
PATH_TO_TURN_2_ATTEMPT_2 = [
    ("running", 1, 1),
    ("queued", 1, 2),
    ("running", 1, 2),
    ("succeeded", 1, 2),
    ("queued", 2, 1),
    ("running", 2, 1),
    ("queued", 2, 2),
]


async def run_in(conn: AsyncConnection, status: str) -> UUID:
    """A new run brought by legal moves to `status` at turn 2, attempt 2."""
    run_id = uuid4()
    await conn.execute(
        text(
            "INSERT INTO runs (id, task_id, executor_type, instruction, status, max_attempts, "
            "branch, created_by) VALUES (:id, :task, 'command', 'x', 'queued', 3, 'b', 't')"
        ),
        {"id": run_id, "task": TASK_ID},
    )
    for step in PATH_TO_TURN_2_ATTEMPT_2:
        await set_status(conn, run_id, *step)
    if status != "queued":
        await set_status(conn, run_id, "running", FROM_TURN, FROM_ATTEMPT)
    if status not in ("queued", "running"):
        await set_status(conn, run_id, status, FROM_TURN, FROM_ATTEMPT)
    return run_id


def test_the_table_has_every_legal_transition_of_the_design() -> None:
    # 6 same-state bookkeeping, 3 from queued, 4 from running, 1 retry, 4 follow-ups.
    assert LEGAL_COUNT == 6 + 3 + 4 + 1 + 4


@pytest.mark.parametrize(("old", "new", "move"), CASES)
async def test_database_allows_exactly_the_legal_transitions(
    machine_engine: AsyncEngine, old: str, new: str, move: str
) -> None:
    turn, attempt = MOVES[move]
    async with machine_engine.connect() as conn:
        async with conn.begin():
            run_id = await run_in(conn, old)
        transaction = await conn.begin()
        try:
            await set_status(conn, run_id, new, turn, attempt)
            refused: str | None = None
        except DBAPIError as exc:
            refused = str(exc.orig)
        finally:
            await transaction.rollback()

    if legal(old, new, move):
        assert refused is None, refused
    else:
        assert refused is not None, f"the database accepted {old} -> {new} ({move})"
        assert "illegal run transition" in refused


@pytest.mark.parametrize(
    ("status", "turn", "attempt"),
    [("running", 1, 1), ("succeeded", 1, 1), ("queued", 2, 1), ("queued", 1, 2)],
)
async def test_a_run_can_only_be_born_queued_at_turn_1_attempt_1(
    machine_engine: AsyncEngine, status: str, turn: int, attempt: int
) -> None:
    async with machine_engine.begin() as conn:
        with pytest.raises(DBAPIError, match="a run starts queued at turn 1, attempt 1"):
            await conn.execute(
                text(
                    "INSERT INTO runs (id, task_id, executor_type, instruction, status, turn, "
                    "attempt, max_attempts, branch, created_by, lease_owner, lease_expires_at) "
                    "VALUES (:id, :task, 'command', 'x', :status, :turn, :attempt, 3, 'b', 't', "
                    "'w', now())"
                ),
                {
                    "id": uuid4(),
                    "task": TASK_ID,
                    "status": status,
                    "turn": turn,
                    "attempt": attempt,
                },
            )


async def test_event_numbering_never_goes_back(machine_engine: AsyncEngine) -> None:
    async with machine_engine.begin() as conn:
        run_id = await run_in(conn, "running")
        await conn.execute(text("UPDATE runs SET last_seq = 5 WHERE id = :id"), {"id": run_id})
        with pytest.raises(DBAPIError, match="run event numbering cannot go back"):
            await conn.execute(text("UPDATE runs SET last_seq = 4 WHERE id = :id"), {"id": run_id})


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE run_events SET type = 'status' WHERE run_id = :id",
        "DELETE FROM run_events WHERE run_id = :id",
        "TRUNCATE run_events",
    ],
    ids=["update", "delete", "truncate"],
)
async def test_the_event_log_is_append_only(machine_engine: AsyncEngine, statement: str) -> None:
    """Even the schema owner cannot change, remove or empty the event log."""
    async with machine_engine.begin() as conn:
        run_id = await run_in(conn, "running")
        await conn.execute(
            text(
                "INSERT INTO run_events (run_id, seq, task_id, turn, attempt, type, data) "
                "VALUES (:id, 1, :task, 2, 2, 'log', '{}')"
            ),
            {"id": run_id, "task": TASK_ID},
        )
        params = {"id": run_id} if ":id" in statement else {}
        with pytest.raises(DBAPIError, match="the run event log is append-only"):
            await conn.execute(text(statement), params)


ATTEMPT_CASES = [
    pytest.param(old, new, old == new or (old == "running" and new in TERMINAL), id=f"{old}->{new}")
    for old, new in itertools.product(("running", *TERMINAL), RUN_STATUSES)
]


@pytest.mark.parametrize(("old", "new", "allowed"), ATTEMPT_CASES)
async def test_attempt_rows_move_only_from_running_to_an_end(
    machine_engine: AsyncEngine, old: str, new: str, allowed: bool
) -> None:
    async with machine_engine.connect() as conn:
        async with conn.begin():
            run_id = await run_in(conn, "running")
            await conn.execute(
                text(
                    "INSERT INTO run_attempts (run_id, turn, attempt, status) "
                    "VALUES (:id, 2, 2, 'running')"
                ),
                {"id": run_id},
            )
            if old != "running":
                await _set_attempt(conn, run_id, old)
        transaction = await conn.begin()
        try:
            await _set_attempt(conn, run_id, new)
            refused: str | None = None
        except DBAPIError as exc:
            refused = str(exc.orig)
        finally:
            await transaction.rollback()

    if allowed:
        assert refused is None, refused
    else:
        assert refused is not None
        assert "illegal attempt transition" in refused


async def test_an_attempt_is_born_running(machine_engine: AsyncEngine) -> None:
    async with machine_engine.begin() as conn:
        run_id = await run_in(conn, "running")
        with pytest.raises(DBAPIError, match="an attempt starts running"):
            await conn.execute(
                text(
                    "INSERT INTO run_attempts (run_id, turn, attempt, status) "
                    "VALUES (:id, 2, 2, 'succeeded')"
                ),
                {"id": run_id},
            )


async def _set_attempt(conn: AsyncConnection, run_id: UUID, status: str) -> None:
    await conn.execute(
        text("UPDATE run_attempts SET status = :status WHERE run_id = :id"),
        {"status": status, "id": run_id},
    )
