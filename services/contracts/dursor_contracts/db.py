"""The async SQLAlchemy engine each service owns in its lifespan."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def create_engine(url: str, pool_size: int = 10) -> AsyncEngine:
    """An asyncpg engine with a bounded pool that survives database restarts."""
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
    )
