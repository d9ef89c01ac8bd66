"""The async SQLAlchemy engine each service owns in its lifespan."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Executable
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine


def create_engine(url: str, pool_size: int = 10) -> AsyncEngine:
    """An asyncpg engine with a bounded pool that survives database restarts."""
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
    )


async def one(conn: AsyncConnection, statement: Executable) -> Row[Any]:
    """The single row a statement returns."""
    row: Row[Any] = (await conn.execute(statement)).one()
    return row


async def one_or_none(conn: AsyncConnection, statement: Executable) -> Row[Any] | None:
    """The row a statement returns, if any."""
    row: Row[Any] | None = (await conn.execute(statement)).one_or_none()
    return row


async def all_rows(conn: AsyncConnection, statement: Executable) -> list[Row[Any]]:
    """Every row a statement returns."""
    return list((await conn.execute(statement)).all())
