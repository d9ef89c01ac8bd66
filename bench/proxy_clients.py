"""HTTP clients for the gateway's proxy hop: httpx vs aiohttp vs a raw httpcore pool.

The gateway sends every forwarded request to its sidecar over loopback, so what a client
library costs per request is CPU the gateway cannot spend on anything else. Each client
makes the same request (the headers the proxy forwards, a small body on POST) to the
same upstream, from the same process, with uvloop as in the services, in a closed loop
of `--connections` tasks; blocks alternate between the clients so machine load falls on
all of them. Printed per client: requests/s, CPU µs per request in the client process
(the figure that matters on a saturated 2-core host), p50/p99 latency, and the ratio to
httpx as the gateway used it (with OpenTelemetry's httpx instrumentation).

The upstream is a separate process answering every request with a canned ~1 KiB JSON
document the way daprd does (content-length, keep-alive), so its own cost is small and
the same for every client.

    uv run python -m bench.proxy_clients                 # --seconds 3 --blocks 3 --connections 16
    uv run python -m bench.proxy_clients --quick         # one short block each
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import cast

import aiohttp
import httpcore
import httpx
import uvloop
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from dursor_kit.telemetry import RedactingSpanProcessor
from tests.support.backing import free_port

BODY = json.dumps(
    {"id": "7c1e2a4b-0d7f-4c55-9a43-0e2f4b1d9c11", "status": "running"}
    | {f"field_{n}": "x" * 20 for n in range(30)}
).encode()
CANNED = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntraceparent: "
    b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n"
    b"content-length: " + str(len(BODY)).encode() + b"\r\n\r\n" + BODY
)
REQUEST_HEADERS = {
    "authorization": "Bearer " + "t" * 700,
    "accept": "application/json",
    "x-request-id": "bench",
    "dapr-api-token": "a" * 32,
}
Request = Callable[[], Awaitable[bytes]]


class CannedUpstream(asyncio.Protocol):
    """Answers each request (headers, then `content-length` bytes of body) with CANNED."""

    def __init__(self) -> None:
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport to answer on."""
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        """Answer every complete request in the buffer."""
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = self.buffer[:end].lower()
            length = 0
            if (at := head.find(b"content-length:")) >= 0:
                length = int(head[at + 15 :].split(b"\r\n", 1)[0])
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length :]
            assert self.transport is not None
            self.transport.write(CANNED)


async def serve_upstream(port: int) -> None:
    """The upstream process: serve CANNED on 127.0.0.1:port until killed."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(CannedUpstream, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


@contextlib.contextmanager
def upstream() -> Iterator[str]:
    """The canned upstream in a process of its own; yields its base URL."""
    port = free_port()
    command = [sys.executable, "-m", "bench.proxy_clients", "--serve", str(port)]
    process = subprocess.Popen(command)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


@contextlib.asynccontextmanager
async def httpx_client(base: str, connections: int, instrumented: bool) -> AsyncIterator[Request]:
    """httpx.AsyncClient, as `dursor_kit.sidecar` uses it (optionally with OTel's wrapper)."""
    if instrumented:
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

        HTTPXClientInstrumentor().instrument()
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    try:
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:

            async def get() -> bytes:
                response = await client.get(
                    f"{base}/v1.0/invoke/run-api/method/v1/runs/x", headers=REQUEST_HEADERS
                )
                return response.content

            yield get
    finally:
        if instrumented:
            HTTPXClientInstrumentor().uninstrument()


@contextlib.asynccontextmanager
async def aiohttp_client(base: str, connections: int) -> AsyncIterator[Request]:
    """aiohttp.ClientSession over a keep-alive TCPConnector of `connections`."""
    connector = aiohttp.TCPConnector(limit=connections, ttl_dns_cache=None)
    async with aiohttp.ClientSession(
        base, connector=connector, auto_decompress=False, skip_auto_headers=["User-Agent"]
    ) as session:

        async def get() -> bytes:
            async with session.get(
                "/v1.0/invoke/run-api/method/v1/runs/x", headers=REQUEST_HEADERS
            ) as response:
                return await response.read()

        yield get


@contextlib.asynccontextmanager
async def httpcore_client(base: str, connections: int) -> AsyncIterator[Request]:
    """A bare httpcore.AsyncConnectionPool (httpx's transport without httpx around it)."""
    headers = [(k.encode(), v.encode()) for k, v in REQUEST_HEADERS.items()]
    headers.append((b"host", base.removeprefix("http://").encode()))
    url = f"{base}/v1.0/invoke/run-api/method/v1/runs/x"
    async with httpcore.AsyncConnectionPool(
        max_connections=connections, max_keepalive_connections=connections
    ) as pool:

        async def get() -> bytes:
            response = await pool.request("GET", url, headers=headers)
            return response.content

        yield get


CLIENTS = {
    "httpx + OTel wrapper (before)": lambda base, n: httpx_client(base, n, instrumented=True),
    "httpx": lambda base, n: httpx_client(base, n, instrumented=False),
    "httpcore pool": httpcore_client,
    "aiohttp": aiohttp_client,
}


@dataclass
class Block:
    """One client's closed-loop block."""

    requests: int
    seconds: float
    cpu_seconds: float
    latencies: list[float]


async def closed_loop(request: Request, connections: int, seconds: float) -> Block:
    """`connections` tasks each sending its next request once the last answered."""
    latencies: list[float] = []
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            body = await request()
            assert body == BODY
            latencies.append(time.perf_counter() - started)

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return Block(len(latencies), time.perf_counter() - wall, time.process_time() - cpu, latencies)


def combined(blocks: list[Block]) -> dict[str, float]:
    """Throughput, CPU per request and percentiles over every block of one client."""
    requests = sum(b.requests for b in blocks)
    latencies = sorted(latency for b in blocks for latency in b.latencies)
    return {
        "requests_per_second": requests / sum(b.seconds for b in blocks),
        "cpu_us_per_request": 1e6 * sum(b.cpu_seconds for b in blocks) / requests,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)],
    }


async def measure(base: str, arguments: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Every client, warmed up, then in alternating blocks."""
    blocks: dict[str, list[Block]] = {name: [] for name in CLIENTS}
    names = list(CLIENTS)
    for block in range(arguments.blocks + 1):
        for name in names if block % 2 == 0 else names[::-1]:
            async with CLIENTS[name](base, arguments.connections) as request:
                seconds = 0.5 if block == 0 else arguments.seconds
                result = await closed_loop(request, arguments.connections, seconds)
            if block:  # block 0 warms every client up
                blocks[name].append(result)
    return {name: combined(found) for name, found in blocks.items()}


def table(results: dict[str, dict[str, float]], connections: int) -> str:
    """One row per client with its ratios to httpx as the gateway used it."""
    reference = results["httpx + OTel wrapper (before)"]
    lines = [
        f"proxy hop clients, {connections} connections, uvloop, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f}",
        f"{'client':32}{'req/s':>9}{'CPU µs/req':>12}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'req/s x':>9}{'CPU x':>8}",
    ]
    for name, r in results.items():
        lines.append(
            f"{name:32}{r['requests_per_second']:>9.0f}{r['cpu_us_per_request']:>12.0f}"
            f"{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}"
            f"{r['requests_per_second'] / reference['requests_per_second']:>9.2f}"
            f"{r['cpu_us_per_request'] / reference['cpu_us_per_request']:>8.2f}"
        )
    lines.append(
        "ratios vs httpx + OTel wrapper (req/s, CPU per request): "
        + "; ".join(
            f"{name} {r['requests_per_second'] / reference['requests_per_second']:.2f}x, "
            f"{r['cpu_us_per_request'] / reference['cpu_us_per_request']:.2f}x"
            for name, r in results.items()
            if r is not reference
        )
    )
    return "\n".join(lines)


async def until_listening(base: str) -> None:
    """Until the upstream accepts connections (a minute at most: the host may be busy)."""
    host, port = base.removeprefix("http://").split(":")
    for _ in range(600):
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection(host, int(port))
            writer.close()
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"the upstream at {base} never listened")


def trace_like_the_services() -> None:
    """A recording tracer provider, as `dursor_kit.telemetry` installs in every service."""
    provider = TracerProvider(resource=Resource.create({"service.name": "bench"}))
    provider.add_span_processor(RedactingSpanProcessor())
    trace.set_tracer_provider(provider)


async def main(arguments: argparse.Namespace) -> None:
    """Start the upstream, wait for it, measure, print the table and the JSON."""
    trace_like_the_services()
    with upstream() as base:
        await until_listening(base)
        results = await measure(base, arguments)
    print(table(results, arguments.connections))
    print(json.dumps(results))


def parse_arguments() -> argparse.Namespace:
    """Block length, blocks, connections; `--serve PORT` runs the upstream."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each block")
    parser.add_argument("--blocks", type=int, default=3, help="measured blocks per client")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--quick", action="store_true", help="one 2 s block per client")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.quick:
        arguments.seconds, arguments.blocks = 2.0, 1
    return arguments


if __name__ == "__main__":
    options = parse_arguments()
    if options.serve:
        uvloop.run(serve_upstream(options.serve))
    else:
        uvloop.run(main(options))
