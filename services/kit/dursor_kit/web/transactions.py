"""The request's unit of work as a FastAPI dependency: `tx: Tx` in a route's signature.

One unit of work per request, committed once when the route returns (before the answer
is sent, so a 2xx always means committed) and rolled back when it raises. A middleware
that must commit something of its own with the route's change (the idempotency keys of
run-api) opens the unit of work itself and shares it; the route then joins it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from starlette.types import Scope

from dursor_kit.db.unit_of_work import Transactions, UnitOfWork

SHARED = "dursor.unit_of_work"


def share_unit_of_work(scope: Scope, work: UnitOfWork) -> None:
    """Let the routes of this request join `work` instead of opening their own."""
    scope[SHARED] = work


async def request_unit_of_work(request: Request) -> AsyncIterator[UnitOfWork]:
    """The unit of work a middleware shared, else a new one that commits as the route returns."""
    shared: UnitOfWork | None = request.scope.get(SHARED)
    if shared is not None:
        yield shared  # the middleware that opened it commits (or discards) it
        return
    transactions: Transactions = request.app.state.transactions
    async with transactions.begin() as work:
        yield work


# `scope="function"`: the commit happens when the route returns, before the answer is sent.
Tx = Annotated[UnitOfWork, Depends(request_unit_of_work, scope="function")]
