"""Clients of a chaos run: a steady stream of `command` runs and an SSE watcher for each.

They behave as well-made clients do: a submission carries an `Idempotency-Key` and is
retried (same key) after a 503, a 409 (the first try still running) or a lost
connection; a watcher is an EventSource that reconnects with `Last-Event-ID`. Every
HTTP answer is logged with its time, so a 5xx can be judged against the fault window.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from dataclasses import dataclass, field
from uuid import uuid4

import httpx

from tests.support.sse import Frame, frames

TERMINAL = frozenset({"completed", "failed", "cancelled", "timed_out"})
GIVE_UP_SECONDS = 120.0


@dataclass(frozen=True)
class Answer:
    """One HTTP answer (or lost connection, status 0) a client got."""

    at: float
    what: str
    status: int
    retry_after: bool
    error: str = ""


@dataclass
class AnswerLog:
    """Every answer of every client, in arrival order."""

    answers: list[Answer] = field(default_factory=list)

    def note(self, what: str, response: httpx.Response | None, error: str = "") -> None:
        """Record an answer (None: the connection failed with `error`)."""
        status = response.status_code if response is not None else 0
        retry_after = response is not None and "retry-after" in response.headers
        self.answers.append(Answer(time.monotonic(), what, status, retry_after, error))

    def server_errors(self, since: float = 0.0) -> list[Answer]:
        """Every 5xx answered at or after `since`."""
        return [a for a in self.answers if a.status >= 500 and a.at >= since]


@dataclass
class Watcher:
    """What one EventSource-like client received for one run."""

    run_id: str
    frames: list[Frame] = field(default_factory=list)
    connections: int = 0
    resumed_frames: int = 0
    ended: bool = False


def retry_seconds(response: httpx.Response, cap: float = 2.0) -> float:
    """The server's Retry-After, capped for the test's pace (1 s when it gives none)."""
    raw = response.headers.get("retry-after", "1")
    return min(float(raw) if raw.isdigit() else 1.0, cap)


class Clients:
    """One HTTP client per gateway replica, used in turn (a load balancer's round robin)."""

    def __init__(self, gateway_urls: list[str], headers: dict[str, str]) -> None:
        timeout = httpx.Timeout(30.0, read=45.0)
        limits = httpx.Limits(max_connections=2000, max_keepalive_connections=200)
        self._clients = [
            httpx.AsyncClient(base_url=url, headers=headers, timeout=timeout, limits=limits)
            for url in gateway_urls
        ]
        self._turn = itertools.count()

    def next(self) -> httpx.AsyncClient:
        """The client of the next gateway in turn."""
        return self._clients[next(self._turn) % len(self._clients)]

    async def aclose(self) -> None:
        """Close every client."""
        for client in self._clients:
            await client.aclose()


class Load:
    """Submits runs to one task, watches each, and keeps what every client saw."""

    def __init__(self, clients: Clients, task_id: str, template: str, watch: bool = True) -> None:
        self.clients = clients
        self.task_id = task_id
        self.template = template
        self.watch = watch
        self.log = AnswerLog()
        self.accepted: dict[str, str] = {}  # run id -> the submission's token
        self.refused: list[tuple[str, int]] = []
        self.watchers: dict[str, Watcher] = {}
        self._watch_tasks: list[asyncio.Task[None]] = []
        self._tokens = itertools.count()

    async def submit(self, count: int = 1) -> list[str]:
        """One request for `count` runs, retried until answered; the accepted run ids."""
        token = f"chaos-{next(self._tokens)}-{uuid4().hex[:8]}"
        executor = {"type": "command", "options": {"template": self.template}}
        body = {"instruction": token, "executors": [executor] * count}
        headers = {"Idempotency-Key": uuid4().hex}
        deadline = time.monotonic() + GIVE_UP_SECONDS
        while time.monotonic() < deadline:
            response = await self._post(body, headers)
            if response is None:
                await asyncio.sleep(1.0)
                continue
            if response.status_code == 202:
                return self._accept(token, response)
            if response.status_code in (409, 429) or response.status_code >= 500:
                await asyncio.sleep(retry_seconds(response))
                continue
            self.refused.append((token, response.status_code))
            return []
        self.refused.append((token, 0))
        return []

    async def _post(self, body: object, headers: dict[str, str]) -> httpx.Response | None:
        try:
            response = await self.clients.next().post(
                f"/v1/tasks/{self.task_id}/runs", json=body, headers=headers
            )
        except httpx.HTTPError as exc:
            self.log.note("submit", None, type(exc).__name__)
            return None
        self.log.note("submit", response)
        return response

    def _accept(self, token: str, response: httpx.Response) -> list[str]:
        run_ids = [str(run["id"]) for run in response.json()["runs"]]
        for run_id in run_ids:
            self.accepted[run_id] = token
            if self.watch:
                watcher = self.watchers[run_id] = Watcher(run_id)
                self._watch_tasks.append(asyncio.create_task(self._follow(watcher)))
        return run_ids

    async def steady(self, interval: float, stop: asyncio.Event) -> None:
        """Submit one run every `interval` seconds until `stop` is set."""
        pending: set[asyncio.Task[list[str]]] = set()
        while not stop.is_set():
            task = asyncio.create_task(self.submit())
            pending.add(task)
            task.add_done_callback(pending.discard)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
        if pending:
            await asyncio.gather(*pending)

    async def watchers_done(self, timeout: float) -> list[Watcher]:
        """Wait for every watcher to see its run end; the ones that did not in time."""
        if self._watch_tasks:
            await asyncio.wait(self._watch_tasks, timeout=timeout)
        for task in self._watch_tasks:
            task.cancel()
        self._watch_tasks = [t for t in self._watch_tasks if not t.done()]
        return [w for w in self.watchers.values() if not w.ended]

    def stop_watching(self) -> None:
        """Cancel every watcher still following its run."""
        for task in self._watch_tasks:
            task.cancel()

    async def _follow(self, watcher: Watcher) -> None:
        last_id: str | None = None
        while not watcher.ended:
            headers = {"Last-Event-ID": last_id} if last_id else {}
            try:
                pause = await self._connect(watcher, headers)
            except httpx.HTTPError as exc:
                self.log.note("stream", None, type(exc).__name__)
                pause = 1.0
            if watcher.frames:
                last_id = watcher.frames[-1].id
            if not watcher.ended:
                await asyncio.sleep(pause)

    async def _connect(self, watcher: Watcher, headers: dict[str, str]) -> float:
        client = self.clients.next()
        path = f"/v1/runs/{watcher.run_id}/stream"
        async with client.stream("GET", path, headers=headers) as response:
            self.log.note("stream", response)
            if response.status_code == 204:
                watcher.ended = True
                return 0.0
            if response.status_code != 200:
                await response.aread()
                return retry_seconds(response)
            watcher.connections += 1
            async for frame in frames(response):
                if frame.event == "reconnect":
                    return 0.0
                watcher.frames.append(frame)
                if watcher.connections > 1:
                    watcher.resumed_frames += 1
                if frame.event in TERMINAL:
                    watcher.ended = True
                    return 0.0
        return 1.0
