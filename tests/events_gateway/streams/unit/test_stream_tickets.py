"""Stream tickets over an in-memory state store with ETags: single use under races, expiry."""

from __future__ import annotations

import asyncio
import time
from typing import cast

import pytest

from dursor_kit.auth.verifier import Principal, Role
from dursor_kit.errors import ProblemError
from dursor_kit.sidecar import Sidecar
from events_gateway.streams.tickets import StreamTickets, record_key
from tests.events_gateway.edge.unit.test_rate_limit import MemoryStateStore

PATH = "/v1/runs/7c1e2a4b-0d7f-4c55-9a43-0e2f4b1d9c11/stream"
ALICE = Principal("alice", "http://issuer", "alice", Role.VIEWER)


def tickets(store: MemoryStateStore, ttl: int = 60) -> StreamTickets:
    """Tickets kept in the in-memory store."""
    return StreamTickets(cast(Sidecar, store), ttl)


async def redeemed(issuer: StreamTickets, ticket: str, path: str = PATH) -> int:
    """200 if the ticket opened `path`, else the refusal's status."""
    try:
        assert await issuer.redeem(ticket, path) == ALICE
    except ProblemError as refused:
        return refused.status
    return 200


async def test_parallel_redemptions_of_one_ticket_let_exactly_one_through() -> None:
    store = MemoryStateStore()
    issued = await tickets(store).issue(PATH, ALICE)
    # Two "replicas" each with their own StreamTickets over the same store.
    replicas = [tickets(store), tickets(store)]
    statuses = await asyncio.gather(*(redeemed(replicas[i % 2], issued.value) for i in range(20)))
    assert sorted(statuses) == [200] + [401] * 19


async def test_the_store_never_holds_the_ticket_itself() -> None:
    store = MemoryStateStore()
    issued = await tickets(store).issue(PATH, ALICE)
    assert list(store.items) == [record_key(issued.value)]
    assert issued.value not in repr(store.items)


async def test_a_ticket_for_another_path_or_expired_or_malformed_opens_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = MemoryStateStore()
    issuer = tickets(store, ttl=2)
    issued = await issuer.issue(PATH, ALICE)
    assert await redeemed(issuer, issued.value, PATH.replace("runs", "tasks")) == 401
    assert await redeemed(issuer, "dst_" + "A" * 43) == 401
    assert await redeemed(issuer, issued.value + "x") == 401
    later = time.time() + 3
    monkeypatch.setattr(time, "time", lambda: later)
    assert await redeemed(issuer, issued.value) == 401


async def test_a_ticket_opens_its_stream_after_a_refusal_for_another() -> None:
    store = MemoryStateStore()
    issuer = tickets(store)
    issued = await issuer.issue(PATH, ALICE)
    assert await redeemed(issuer, issued.value, PATH.replace("runs", "tasks")) == 401
    assert await redeemed(issuer, issued.value) == 200
    assert await redeemed(issuer, issued.value) == 401


async def test_an_unreachable_store_is_a_503_not_an_open_stream() -> None:
    store = MemoryStateStore()
    issued = await tickets(store).issue(PATH, ALICE)
    store.down = True
    assert await redeemed(tickets(store), issued.value) == 503
