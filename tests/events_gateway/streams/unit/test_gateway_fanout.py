"""The gateway's fan-out hub and stream cursors, in memory."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dursor_contracts.events import EventType, RunEventV1
from dursor_kit.errors import ProblemError
from events_gateway.metrics import GatewayMetrics
from events_gateway.streams.hub import (
    REORDER_HOLD_SECONDS,
    EncodedEvent,
    FanoutHub,
    Subscription,
    encode,
)
from events_gateway.streams.service import encode_task_cursor, parse_run_cursor, parse_task_cursor

RUN, TASK = uuid.uuid4(), uuid.uuid4()


def event(
    seq: int, data: dict[str, Any] | None = None, kind: EventType = EventType.LOG
) -> RunEventV1:
    """An event of RUN (a log line unless told otherwise)."""
    return RunEventV1(
        run_id=RUN,
        task_id=TASK,
        seq=seq,
        turn=1,
        attempt=1,
        type=kind,
        data=data if data is not None else {"stream": "stdout", "lines": [f"line {seq}"]},
        created_at=datetime(2026, 11, 28, tzinfo=UTC),
    )


def test_a_slow_subscriber_overflows_alone_and_holds_no_more_than_its_buffer() -> None:
    metrics = GatewayMetrics()
    hub = FanoutHub(metrics)
    slow, fast = Subscription(8), Subscription(1000)
    hub.watch_run(RUN, slow)
    hub.watch_task(TASK, fast)
    for seq in range(1, 101):
        hub.publish(event(seq))
    assert slow.overflowed
    assert len(slow.drain()) == 8
    assert not fast.overflowed
    assert [e.seq for e in fast.drain()] == list(range(1, 101))
    assert metrics.events_delivered.value == 108


def test_each_event_is_encoded_once_for_every_subscriber() -> None:
    hub = FanoutHub(GatewayMetrics())
    subscribers = [Subscription(10) for _ in range(5)]
    for subscription in subscribers:
        hub.watch_run(RUN, subscription)
    hub.publish(event(1))
    frames = [s.drain()[0] for s in subscribers]
    assert all(frame is frames[0] for frame in frames)


def test_unwatched_runs_are_forgotten() -> None:
    hub = FanoutHub(GatewayMetrics())
    subscription = Subscription(10)
    hub.watch_run(RUN, subscription)
    hub.unwatch(RUN, subscription)
    hub.publish(event(1))
    assert hub.watched_runs == []
    assert subscription.drain() == []


@given(st.text(), st.text() | st.none())
def test_the_frame_of_an_event_does_not_depend_on_its_key_order(
    message: str, step: str | None
) -> None:
    as_published = event(1, {"message": message, "step": step}, EventType.PROGRESS)
    as_stored = event(1, {"step": step, "message": message}, EventType.PROGRESS)
    assert encode(as_published).data_line == encode(as_stored).data_line


@pytest.mark.parametrize("raw", ["x", "-1", "1.0", " 1", "1" * 19, "0x10"])
def test_malformed_run_cursors_are_refused(raw: str) -> None:
    with pytest.raises(ProblemError) as refused:
        parse_run_cursor(raw, 10)
    assert refused.value.status == 400


def test_run_cursors_beyond_the_run_are_foreign() -> None:
    assert parse_run_cursor("10", 10) == 10
    assert parse_run_cursor(None, 10) == 0
    with pytest.raises(ProblemError) as refused:
        parse_run_cursor("11", 10)
    assert "foreign" in refused.value.slug


@given(st.dictionaries(st.uuids(), st.integers(min_value=0, max_value=10**6), min_size=1))
def test_task_cursors_round_trip(heads: dict[uuid.UUID, int]) -> None:
    assert parse_task_cursor(encode_task_cursor(heads), heads) == heads


def test_task_cursors_naming_other_runs_or_later_events_are_foreign() -> None:
    heads = {RUN: 5}
    for raw in (f"{uuid.uuid4().hex}:1", f"{RUN.hex}:6"):
        with pytest.raises(ProblemError) as refused:
            parse_task_cursor(raw, heads)
        assert "foreign" in refused.value.slug
    with pytest.raises(ProblemError):
        parse_task_cursor(f"{RUN.hex}", heads)


async def test_streams_missing_the_same_gap_share_one_read() -> None:
    hub = FanoutHub(GatewayMetrics())
    reads = 0
    release = asyncio.Event()

    async def read() -> list[EncodedEvent]:
        nonlocal reads
        reads += 1
        await release.wait()
        return [encode(event(4)), encode(event(5))]

    waiters = [asyncio.create_task(hub.read_gap(RUN, 3, 2, read)) for _ in range(100)]
    await asyncio.sleep(0)
    waiters[0].cancel()  # a client hanging up must not cancel the others' read
    release.set()
    results = await asyncio.gather(*waiters[1:])
    assert reads == 1
    assert all([e.seq for e in result] == [4, 5] for result in results)
    # Once answered, the next gap is read afresh.
    assert [e.seq for e in await hub.read_gap(RUN, 3, 2, read)] == [4, 5]
    assert reads == 2


async def test_a_run_s_events_reach_streams_in_order_when_the_sidecar_reorders_them() -> None:
    hub = FanoutHub(GatewayMetrics())
    subscription = Subscription(100)
    hub.watch_run(RUN, subscription)
    hub.note_head(RUN, 2)  # the stream's replay ended at seq 2
    for seq in (4, 3, 6, 5, 7):
        hub.publish(event(seq))
    assert [e.seq for e in subscription.drain()] == [3, 4, 5, 6, 7]


async def test_a_repeated_delivery_wakes_no_stream() -> None:
    metrics = GatewayMetrics()
    hub = FanoutHub(metrics)
    subscription = Subscription(100)
    hub.watch_run(RUN, subscription)
    for seq in (1, 2, 2, 1, 3):
        hub.publish(event(seq))
    assert [e.seq for e in subscription.drain()] == [1, 2, 3]
    assert metrics.events_delivered.value == 3


async def test_an_event_whose_predecessor_never_comes_is_released_after_the_hold() -> None:
    hub = FanoutHub(GatewayMetrics())
    subscription = Subscription(100)
    hub.watch_run(RUN, subscription)
    hub.publish(event(1))
    hub.publish(event(3))
    hub.publish(event(4))
    assert [e.seq for e in subscription.drain()] == [1]
    await asyncio.sleep(REORDER_HOLD_SECONDS * 2)
    # The stream reads seq 2 from Postgres; the late original is dropped, not re-sent.
    assert [e.seq for e in subscription.drain()] == [3, 4]
    hub.publish(event(2))
    hub.publish(event(5))
    assert [e.seq for e in subscription.drain()] == [5]


def test_a_run_stream_frame_is_encoded_once_with_its_seq_as_id() -> None:
    encoded = encode(event(42))
    assert encoded.run_frame == b"id: 42\n" + encoded.event_line + encoded.data_line
    assert encoded.event_line == b"event: log\n"
