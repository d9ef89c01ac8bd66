"""A rejected message is retried by the resiliency policy, then dead-lettered and recorded."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from dursor_store.schema import dead_letters
from tests.support.platform import Platform

pytestmark = pytest.mark.e2e

# components/resiliency.yaml: pubsubInbound retries 5 times after the first delivery.
DELIVERIES = 1 + 5


async def test_rejected_message_is_retried_then_recorded_from_its_dead_letter_topic(
    platform: Platform,
) -> None:
    poison: dict[str, Any] = {
        "specversion": "1.0",
        "id": "poison-run-requested-1",
        "source": "tests",
        "type": "cloud.dursor.run-requested.v1",
        "datacontenttype": "application/json",
        "data": {"schema_version": 1, "run_id": "not-a-uuid"},
    }
    async with httpx.AsyncClient(timeout=10) as client:
        published = await client.post(
            f"{platform.replica('run-api').sidecar_url}/v1.0/publish/pubsub/run-requested",
            content=json.dumps(poison),
            headers=platform.replica("run-api").sidecar_headers
            | {"content-type": "application/cloudevents+json"},
        )
    assert published.status_code == 204

    recorded = await _wait_for_dead_letter(platform, poison["id"], timeout=60)

    # The envelope keeps the topic it failed on; it arrived through run-requested-dlq.
    assert recorded["topic"] == "run-requested"
    assert recorded["payload"]["data"] == poison["data"]
    rejections = [
        line
        for line in platform.replica("agent-runner").logs().splitlines()
        if "rejected run-requested message" in line and poison["id"] in line
    ]
    assert len(rejections) == DELIVERIES


async def _wait_for_dead_letter(
    platform: Platform, event_id: str, timeout: float
) -> dict[str, Any]:
    engine = create_async_engine(platform.database_url)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            async with engine.connect() as conn:
                row = (
                    await conn.execute(
                        select(dead_letters).where(dead_letters.c.event_id == event_id)
                    )
                ).one_or_none()
            if row is not None:
                return dict(row._mapping)
            await asyncio.sleep(0.5)
    finally:
        await engine.dispose()
    raise AssertionError(f"no dead letter recorded for {event_id} within {timeout}s")
