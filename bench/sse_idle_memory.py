"""Where an idle SSE connection's Python bytes go: inside the middleware chain vs handed off.

An in-process uvicorn (uvloop, httptools, as the gateway runs) serves an app built like
the gateway's: the kit's service app (problem handlers, body limit, request log,
OpenTelemetry with every span recorded), CORS and the request-target guard, and one stream
route whose response idles as a stream does (a bounded inbox, a disconnect watcher, a
ping timer). A client in another process opens N connections and holds them. tracemalloc
compares the heap before and after, once with the stream served inside the chain (as
before) and once with `StreamHandoff` in front, and prints the biggest allocation sites.

Only Python allocations are traced (uvloop's and httptools' C structures are not), so
the figures explain the difference in RSS that `bench.sse_fanout` measures, not its total.

    uv run python -m bench.sse_idle_memory --clients 1000
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import subprocess
import sys
import tracemalloc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
import uvicorn
from fastapi import APIRouter, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from dursor_kit.telemetry import configure_telemetry
from dursor_kit.web.app import create_service_app
from events_gateway.edge.request_target import RequestTargetGuard
from events_gateway.streams.handoff import HANDOFF, StreamHandoff
from events_gateway.streams.hub import Subscription
from events_gateway.streams.service import HEADERS, PING, _disconnect
from tests.support.backing import free_port

CLIENT = """
import asyncio, sys
async def main(port, clients):
    held = []
    for _ in range(clients):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /v1/runs/7c1e2a4b-0d7f-4c55-9a43-0e2f4b1d9c11/stream HTTP/1.1\\r\\n"
                     b"host: 127.0.0.1\\r\\norigin: https://app.example\\r\\n"
                     b"authorization: Bearer " + b"x" * 600 + b"\\r\\n\\r\\n")
        await reader.readuntil(b"retry: 2000\\n\\n")
        held.append((reader, writer))
    print("connected", flush=True)
    await asyncio.sleep(3600)
asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
"""


class IdleStream(Response):
    """Holds a connection as an EventStream does between events: inbox, watcher, timer."""

    def __init__(self) -> None:
        self._subscription = Subscription(1024)
        self.status_code = 200
        self.background = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
        await send({"type": "http.response.body", "body": b"retry: 2000\n\n", "more_body": True})
        handoff: list[object] | None = scope.get(HANDOFF)
        if handoff is not None:
            handoff.append(self)
            return
        await self.run(receive, send)

    async def run(self, receive: Receive, send: Send) -> None:
        """Ping every 15 s until the client goes."""
        disconnected = asyncio.ensure_future(_disconnect(receive, self._subscription))
        try:
            while not disconnected.done():
                await self._subscription.wait(15)
                await send({"type": "http.response.body", "body": PING, "more_body": True})
        finally:
            disconnected.cancel()

    def abandon(self) -> None:
        """Nothing to let go of."""


router = APIRouter()


@router.get("/v1/runs/{run_id}/stream")
async def stream(run_id: str, request: Request) -> Response:
    """An idle stream; the token is only looked at (no verifier here)."""
    assert request.headers["authorization"].startswith("Bearer ")
    return IdleStream()


@asynccontextmanager
async def no_lifespan(_: FastAPI) -> AsyncIterator[None]:
    """The stand-in owns nothing."""
    yield


def gateway_like_app() -> FastAPI:
    """The kit's service app with the gateway's own middleware on top."""
    # The request log is part of the chain; its lines are not part of the figures.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    configure_telemetry("sse-idle-memory", 1.0)
    app = create_service_app("idle", no_lifespan, [router])
    app.add_middleware(CORSMiddleware, allow_origins=["https://app.example"], allow_methods=["*"])
    app.add_middleware(RequestTargetGuard)
    return app


async def measure(handoff: bool, clients: int, top: int) -> None:
    """Serve, connect `clients` from another process, print the heap's growth per connection."""
    app = gateway_like_app()
    port = free_port()
    config = uvicorn.Config(
        StreamHandoff(app) if handoff else app,
        port=port,
        loop="none",
        http="httptools",
        log_level="warning",
        access_log=False,
        lifespan="off",
        backlog=4096,
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn offers a flag, no event)
        await asyncio.sleep(0.05)
    gc.collect()
    before = tracemalloc.take_snapshot()
    client = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CLIENT, str(port), str(clients), stdout=subprocess.PIPE
    )
    assert client.stdout is not None
    await client.stdout.readline()
    await asyncio.sleep(1)
    gc.collect()
    after = tracemalloc.take_snapshot()
    client.kill()
    await client.wait()
    server.should_exit = True
    await serving
    stats = after.compare_to(before, "filename")
    grown = sum(s.size_diff for s in stats)
    label = "handed off" if handoff else "inside the chain"
    print(f"{label}: {grown / clients / 1024:.2f} KiB of Python heap per idle connection")
    for stat in stats[:top]:
        where = "/".join(str(stat.traceback[0].filename).split("/")[-3:])
        per_conn, blocks = stat.size_diff / clients, stat.count_diff / clients
        print(f"  {per_conn:8.0f} B/conn  {blocks:6.1f} blocks  {where}")


def main() -> None:
    """Both modes, each in a fresh process so one does not inherit the other's heap."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--mode", choices=["chain", "handoff"])
    arguments = parser.parse_args()
    if arguments.mode:
        import uvloop

        tracemalloc.start(1)
        uvloop.run(measure(arguments.mode == "handoff", arguments.clients, arguments.top))
        return
    for mode in ("chain", "handoff"):
        subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.sse_idle_memory",
                "--mode",
                mode,
                "--clients",
                str(arguments.clients),
                "--top",
                str(arguments.top),
            ],
            check=True,
        )


if __name__ == "__main__":
    main()
