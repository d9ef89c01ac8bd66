"""Statements and PostgreSQL backend memory: `IN` lists vs one array parameter (`one_of`).

`column.in_(values)` renders a placeholder per value, so every count is a statement of
its own: asyncpg prepares it on each pooled connection (a round trip) and the backend
keeps it with its plan, up to the engine's statement cache (500). `one_of` sends one
`= ANY($1)` array: one statement for every count. This replays the hot lists the
platform builds — the gateway's run heads (`run_ids` by `task_ids`, per SSE check) and
the outbox relay's "mark sent" (one id per message of its batch) — with every count up
to `--runs`, `--tasks` and `--batch`, once per form, each on a fresh connection of the
platform's own engine to a migrated database, and prints prepared statements, the
backend's memory (`pg_backend_memory_contexts`) and the time, `IN` as the baseline.

    uv run python -m bench.pg_statements [--runs 20] [--tasks 5] [--batch 100] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable, Collection
from typing import Any
from uuid import uuid4

from sqlalchemy import ColumnElement, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from dursor_kit.db.clauses import one_of
from dursor_kit.db.engine import create_engine
from dursor_store.schema import outbox, runs
from tests.support.backing import backing_services
from tests.support.databases import DatabaseFactory

Clause = Callable[[ColumnElement[Any], Collection[Any]], ColumnElement[bool]]
FORMS: dict[str, Clause] = {"IN (...)": lambda column, values: column.in_(values), "one_of": one_of}


async def backend_state(conn: AsyncConnection) -> tuple[int, int]:
    """(prepared statements, bytes of every memory context) of this connection's backend."""
    # One statement for both figures, prepared before it counts: it counts itself the same
    # way before and after.
    state = await conn.execute(
        text(
            "select (select count(*) from pg_prepared_statements),"
            " (select sum(total_bytes) from pg_backend_memory_contexts)"
        )
    )
    prepared, memory = state.one()
    return int(prepared), int(memory)


async def replay(conn: AsyncConnection, clause: Clause, args: argparse.Namespace) -> None:
    """Every count of the gateway's heads query and of the relay's "mark sent", `rounds` times."""
    for _ in range(args.rounds):
        for run_count in range(1, args.runs + 1):
            for task_count in range(1, args.tasks + 1):
                heads = select(runs.c.id, runs.c.last_seq).where(
                    or_(
                        clause(runs.c.id, [uuid4() for _ in range(run_count)]),
                        clause(runs.c.task_id, [uuid4() for _ in range(task_count)]),
                    )
                )
                await conn.execute(heads)
        for batch in range(1, args.batch + 1):
            mark = update(outbox).where(clause(outbox.c.id, range(batch)))
            await conn.execute(mark.values(sent_at=func.now()))


async def measure(url: str, name: str, args: argparse.Namespace) -> dict[str, float]:
    """One form on a fresh connection: what its backend holds after the replay, and the time."""
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            # Each statement with one value first: asyncpg's one-off look-ups (the array
            # types' codecs) are not what is compared.
            warm_up = argparse.Namespace(runs=1, tasks=1, batch=1, rounds=1)
            await replay(conn, FORMS[name], warm_up)
            prepared_before, memory_before = await backend_state(conn)
            started = time.perf_counter()
            await replay(conn, FORMS[name], args)
            seconds = time.perf_counter() - started
            prepared_after, memory_after = await backend_state(conn)
            await conn.rollback()
    finally:
        await engine.dispose()
    queries = args.rounds * (args.runs * args.tasks + args.batch)
    return {
        "statements": prepared_after - prepared_before,
        "memory_kib": (memory_after - memory_before) / 1024,
        "ms_per_query": seconds * 1000 / queries,
    }


async def main(args: argparse.Namespace) -> None:
    with backing_services() as backing:
        databases = DatabaseFactory(backing.database_url)
        await databases.prepare_template()
        try:
            url = await databases.fresh()
            results = {name: await measure(url, name, args) for name in FORMS}
        finally:
            await databases.drop_all()
    baseline = results["IN (...)"]
    print(f"{args.rounds} rounds of {args.runs}x{args.tasks} heads counts + {args.batch} batches")
    print("| form | statements prepared | backend memory KiB | ms per query | vs IN |")
    print("|---|---|---|---|---|")
    for name, figures in results.items():
        ratio = figures["ms_per_query"] / baseline["ms_per_query"]
        print(
            f"| {name} | {figures['statements']:.0f} | {figures['memory_kib']:,.0f} | "
            f"{figures['ms_per_query']:.2f} | {ratio:.2f}x time |"
        )
    ours = results["one_of"]
    print(
        f"ratio one_of/IN: time {ours['ms_per_query'] / baseline['ms_per_query']:.2f}, "
        f"backend memory {ours['memory_kib'] / baseline['memory_kib']:.3f}, "
        f"statements {ours['statements']:.0f} vs {baseline['statements']:.0f}"
    )


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="run ids per heads query, up to")
    parser.add_argument("--tasks", type=int, default=5, help="task ids per heads query, up to")
    parser.add_argument("--batch", type=int, default=100, help="outbox ids marked sent, up to")
    parser.add_argument("--rounds", type=int, default=3, help="times every count is replayed")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse()))
