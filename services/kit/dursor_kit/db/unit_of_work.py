"""The unit of work: one connection, one transaction, committed once, then the relay woken.

A request (or a subscription handler, or one step of a background loop) changes the
database through one `UnitOfWork`. The store's writers take it, so every change and the
outbox messages that announce it commit together; after the commit, and only then, the
app's outbox relay is told to publish (in this one place, never by hand after a commit).
A running relay takes the rows themselves (`takes_handoffs`): they are reserved for it
when written and handed to it after the commit, so it publishes them without a query.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


class OutboxWaker(Protocol):
    """The app's outbox relay, as a unit of work sees it."""

    @property
    def source(self) -> str:
        """The app id whose rows this relay publishes (written as each row's source)."""
        ...

    @property
    def takes_handoffs(self) -> bool:
        """True while rows written now may be reserved for this relay and handed to it."""
        ...

    def notify(self, handed: Sequence[object] = ()) -> Awaitable[None] | None:
        """Publish soon: a transaction that enqueued messages (`handed`: reserved rows) committed.

        What it returns, if anything, is done once the handed rows were published or
        given back to the relay's rounds.
        """
        ...


class PolledOutbox:
    """Rows written as `source` by a process without that app's relay: it polls them up."""

    def __init__(self, source: str) -> None:
        self._source = source

    @property
    def source(self) -> str:
        """The app whose relay publishes these rows."""
        return self._source

    @property
    def takes_handoffs(self) -> bool:
        """Never: the rows must be due for the app's relay at once."""
        return False

    def notify(self, handed: Sequence[object] = ()) -> None:
        """Nothing to wake here: the relay finds the rows on its next poll."""


class NoOutbox(Exception):
    """An app without an outbox relay tried to enqueue a message (a bug)."""


class UnitOfWork:
    """What one request or one step changes: a connection inside its transaction."""

    def __init__(self, conn: AsyncConnection, outbox: OutboxWaker | None) -> None:
        self.conn = conn
        self._outbox = outbox
        self._enqueued = False
        self._discarded = False
        self._handed: list[object] = []
        self._published: Awaitable[None] | None = None
        self._deferred: dict[Callable[[UnitOfWork, list[Any]], Awaitable[None]], list[Any]] = {}

    def outbox_source(self) -> str:
        """The app id an outbox row written in this unit of work records as its writer."""
        if self._outbox is None:
            raise NoOutbox("this app has no outbox relay")
        return self._outbox.source

    def defer(
        self, write: Callable[[UnitOfWork, list[Any]], Awaitable[None]], item: object
    ) -> None:
        """Have `write` write `item` with the others it was given, in one go before the commit."""
        self._deferred.setdefault(write, []).append(item)

    async def write_deferred(self) -> None:
        """Write what was deferred (the unit of work does this right before it commits)."""
        while self._deferred:
            write, items = next(iter(self._deferred.items()))
            del self._deferred[write]
            await write(self, items)

    @property
    def hands_off(self) -> bool:
        """True when outbox rows written now are reserved for the relay and handed to it."""
        return self._outbox is not None and self._outbox.takes_handoffs

    def enqueued(self, handed: object | None = None) -> None:
        """Note that an outbox row was written (`handed`: reserved, to hand to the relay)."""
        self._enqueued = True
        if handed is not None:
            self._handed.append(handed)

    def discard(self) -> None:
        """Roll back at the end instead of committing (the answer was not a success)."""
        self._discarded = True

    @property
    def discarded(self) -> bool:
        """True once `discard` was called."""
        return self._discarded

    def committed(self) -> None:
        """The transaction committed: wake the relay if this work enqueued anything."""
        if self._enqueued and self._outbox is not None:
            self._published = self._outbox.notify(self._handed)

    async def published(self, timeout: float) -> None:
        """Wait up to `timeout` s until the relay published what this work handed it."""
        if self._published is not None:
            await asyncio.wait([asyncio.ensure_future(self._published)], timeout=timeout)


@asynccontextmanager
async def unit_of_work(
    engine: AsyncEngine, outbox: OutboxWaker | None
) -> AsyncIterator[UnitOfWork]:
    """Begin; commit at the end (roll back on an error or `discard`); then wake the relay."""
    async with engine.connect() as conn:
        transaction = await conn.begin()
        work = UnitOfWork(conn, outbox)
        try:
            yield work
        except BaseException:
            await transaction.rollback()
            raise
        if work.discarded:
            await transaction.rollback()
            return
        try:
            await work.write_deferred()
        except BaseException:
            await transaction.rollback()
            raise
        await transaction.commit()
    work.committed()


class Transactions:
    """Units of work on one engine, each waking the app's outbox relay after its commit."""

    def __init__(self, engine: AsyncEngine, outbox: OutboxWaker | None) -> None:
        self.engine = engine
        self._outbox = outbox

    def begin(self) -> AbstractAsyncContextManager[UnitOfWork]:
        """A new unit of work (`async with transactions.begin() as uow:`)."""
        return unit_of_work(self.engine, self._outbox)
