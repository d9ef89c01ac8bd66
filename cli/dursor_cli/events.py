"""A run's or task's SSE stream that survives network loss and gateway restarts.

Every frame's `id:` is remembered; after a dropped connection, a 5xx, a gateway that is
restarting or an `event: reconnect`, the stream is opened again with `Last-Event-ID`, and
the gateway replays exactly what was missed (README "Streams"): no line lost or doubled.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from dursor_cli.api import Api
from dursor_cli.errors import ApiError, CliError, ExitCode

# Pings come every 15 s; three missed ones mean the connection is gone.
READ_TIMEOUT = 45.0
MAX_BACKOFF = 5.0


@dataclass(frozen=True)
class StreamEvent:
    """One run event as the gateway sent it."""

    id: str
    type: str
    body: dict[str, Any]


class StreamEnded(Exception):
    """The gateway answered 204: the run has ended and every event was seen."""


class _Reconnect(Exception):
    """The connection ended before the stream did (`clean`: the server closed it normally)."""

    def __init__(self, reason: str, clean: bool = False, progressed: bool = False) -> None:
        super().__init__(reason)
        self.clean = clean
        self.progressed = progressed or clean


class ResumableStream:
    """Iterate a stream's events across reconnects; stop iterating to close it."""

    def __init__(
        self,
        api: Api,
        path: str,
        last_event_id: str | None = None,
        give_up_after: float = 600.0,
        on_reconnect: Callable[[str], None] | None = None,
    ) -> None:
        self.api = api
        self.path = path
        self.last_event_id = last_event_id
        self.give_up_after = give_up_after
        self.on_reconnect = on_reconnect or (lambda _: None)
        self.retry_seconds = 1.0
        self.reconnects = 0

    def events(self) -> Iterator[StreamEvent]:
        """Events until the server closes the stream for good (204, or a closed run stream)."""
        failing_since: float | None = None
        failures = 0  # in a row: a connection that delivered something resets them
        while True:
            try:
                yield from self._connection()
                return
            except StreamEnded:
                return
            except _Reconnect as reason:
                if reason.progressed:
                    failing_since, failures = None, 0
                if reason.clean:
                    # A closed run stream after a terminal event: the next connection says
                    # 204 when nothing more will come, or carries the next turn.
                    continue
                failing_since = failing_since or time.monotonic()
                if time.monotonic() - failing_since > self.give_up_after:
                    raise CliError(f"lost the stream: {reason}", ExitCode.FAILED) from reason
                failures += 1
                self.reconnects += 1
                self.on_reconnect(str(reason))
                time.sleep(min(self.retry_seconds * 2 ** (failures - 1), MAX_BACKOFF))

    def _connection(self) -> Iterator[StreamEvent]:
        headers = {"accept": "text/event-stream"}
        if self.last_event_id:
            headers["last-event-id"] = self.last_event_id
        timeout = httpx.Timeout(30.0, read=READ_TIMEOUT)
        delivered = 0
        try:
            with self.api.client.stream("GET", self.path, headers=headers, timeout=timeout) as resp:
                self._check(resp)
                for event in self._frames(resp):
                    delivered += 1
                    yield event
        except httpx.TransportError as exc:
            reason = str(exc) or type(exc).__name__
            raise _Reconnect(reason, progressed=delivered > 0) from exc

    def _check(self, response: httpx.Response) -> None:
        if response.status_code == 204:
            raise StreamEnded
        if response.status_code in (429, 502, 503, 504):
            raise _Reconnect(f"the gateway answered {response.status_code}")
        if response.is_error:
            response.read()
            raise ApiError.from_response(response)

    def _frames(self, response: httpx.Response) -> Iterator[StreamEvent]:
        frame: dict[str, str] = {}
        data: list[str] = []
        delivered = 0
        for line in response.iter_lines():
            if line:
                _field(line, frame, data)
                continue
            if frame.get("retry", "").isdigit():
                self.retry_seconds = max(int(frame["retry"]) / 1000, 0.2)
            if "id" in frame and frame.get("event") == "reconnect":
                self.last_event_id = frame["id"]
                raise _Reconnect("the gateway asked for a reconnect", clean=True)
            if data:
                body = json.loads("\n".join(data))
                event = StreamEvent(frame.get("id", ""), frame.get("event", "message"), body)
                self.last_event_id = event.id or self.last_event_id
                delivered += 1
                yield event
            frame, data = {}, []
        # A close that brought nothing is not progress: wait before trying again.
        raise _Reconnect("the gateway closed the stream", clean=delivered > 0)


def _field(line: str, frame: dict[str, str], data: list[str]) -> None:
    if line.startswith(":"):
        return
    name, _, value = line.partition(":")
    value = value.removeprefix(" ")
    if name == "data":
        data.append(value)
    elif name in ("id", "event", "retry"):
        frame[name] = value
