"""Which transaction a write joins: the request's own (idempotent POSTs) or a new one.

A POST with an `Idempotency-Key` runs inside one transaction that the idempotency
middleware opens, so the change and the stored response commit together (or neither
does). Services open their writes with `transaction(engine)`, which joins that request
transaction as a savepoint when there is one, and begins its own otherwise.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

request_connection: ContextVar[AsyncConnection | None] = ContextVar(
    "request_connection", default=None
)


@asynccontextmanager
async def transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection in a transaction; a savepoint of the request's one if it has one."""
    shared = request_connection.get()
    if shared is None:
        async with engine.begin() as conn:
            yield conn
        return
    async with shared.begin_nested():
        yield shared
