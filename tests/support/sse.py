"""A small SSE client for tests: parses frames exactly as a browser's EventSource would."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class Frame:
    """One dispatched SSE event."""

    id: str | None
    event: str
    data: str

    @property
    def json(self) -> Any:
        """The data parsed as JSON."""
        return json.loads(self.data)


async def frames(response: httpx.Response) -> AsyncIterator[Frame]:
    """Frames of a streaming response; comments (`: ping`) and `retry:` are skipped."""
    event_id: str | None = None
    event, data = "message", list[str]()
    async for line in response.aiter_lines():
        if line == "":
            if data:
                yield Frame(event_id, event, "\n".join(data))
            event, data = "message", []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "id":
            event_id = value
        elif name == "event":
            event = value
        elif name == "data":
            data.append(value)


async def collect(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], timeout: float = 60.0
) -> tuple[int, list[Frame]]:
    """Read a stream until the server closes it; returns the status and every frame."""
    collected: list[Frame] = []
    async with client.stream("GET", url, headers=headers, timeout=timeout) as response:
        if response.status_code != 200:
            await response.aread()
            return response.status_code, collected
        async for frame in frames(response):
            collected.append(frame)
    return 200, collected
