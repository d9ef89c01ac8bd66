"""The baseline's own minimal run table (the seed's `runs` row: id, status, timings)."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Column, DateTime, MetaData, Table, Text, func
from sqlalchemy.dialects.postgresql import UUID

from dursor_kit.db.engine import create_engine

metadata = MetaData()

seed_runs = Table(
    "seed_runs",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("task_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("instruction", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    CheckConstraint(
        "status IN ('queued', 'running', 'completed', 'failed', 'cancelled')", name="status"
    ),
)


async def create_tables(database_url: str) -> None:
    """Create the table in a fresh database."""
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
    finally:
        await engine.dispose()
