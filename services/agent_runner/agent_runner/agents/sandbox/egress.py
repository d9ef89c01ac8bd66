"""The runner's side of a jail's network: relays to its upstreams, an HTTPS proxy, refusals.

Inside the jail only `lo` exists. Each upstream (the model provider's base URL) gets a
listening address there: its own loopback address and port when the base URL is a
loopback one (`http://127.0.0.1:8123` works unchanged inside), else a loopback address
of its own that the jail's /etc/hosts gives the provider's name (`https://api.x.com`
keeps its name, certificate and TLS end to end). Those sockets live in the jail's
namespace and are served here, on the runner's loop, which connects to the real host.

Everything else goes through an HTTP CONNECT proxy (`HTTPS_PROXY`) that tunnels only
to the operator's allowlist. A refused CONNECT, a probe of a watched loopback port and
(with the tripwire) any direct connection to another address reach `on_refused`.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import h11
import structlog

from agent_runner.agents.sandbox.destinations import (
    EgressError,
    HostPattern,
    Route,
    dial_address,
    plan_routes,
    split_authority,
)
from agent_runner.agents.sandbox.netns import Bind, JailNetwork, original_destination
from agent_runner.agents.sandbox.schemas import EgressPolicy, RefusalHook

log = structlog.get_logger(__name__)

CONNECT_TIMEOUT_SECONDS = 15.0
# A proxy request's head must arrive within this time (a silent client holds a socket).
REQUEST_HEAD_TIMEOUT_SECONDS = 30.0
# Open connections per jail: each costs the runner sockets, which every run shares.
MAX_CONNECTIONS = 256
REQUEST_HEAD_LIMIT = 16 * 1024
CHUNK = 64 * 1024
PROXY_BIND: Bind = ("127.0.0.1", 0)


class RefusalReporter:
    """Passes refusals to the hook, at most `limit` per jail, then says that it stops."""

    def __init__(self, hook: RefusalHook, limit: int) -> None:
        self._hook = hook
        self._limit = limit
        self.count = 0

    async def __call__(self, host: str, port: int, reason: str) -> None:
        """Report one refused connection (unless past the limit)."""
        self.count += 1
        if self.count > self._limit + 1:
            return
        if self.count == self._limit + 1:
            reason = f"{reason} (further refusals in this jail are not reported)"
        try:
            await self._hook(host, port, reason)
        except Exception:
            log.exception("refusal hook failed", host=host, port=port)


class Egress:
    """Serves one jail's sockets: upstream relays, the CONNECT proxy, watched ports, the sink."""

    def __init__(self, policy: EgressPolicy, on_refused: RefusalHook, report_limit: int) -> None:
        self.routes = plan_routes(policy.upstreams)
        self._allowed = tuple(HostPattern.parse(p) for p in policy.allowed_hosts)
        route_binds = {(r.jail_host, r.port) for r in self.routes}
        watched = policy.watched_ports
        self._watched = tuple(p for p in watched if ("127.0.0.1", p) not in route_binds)
        self.refused = RefusalReporter(on_refused, report_limit)
        self._servers: list[asyncio.Server] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self.proxy_port: int | None = None

    def binds(self) -> list[Bind]:
        """Every listening address the jail's namespace needs."""
        routes = [(r.jail_host, r.port) for r in self.routes]
        return [*routes, PROXY_BIND, *(("127.0.0.1", p) for p in self._watched)]

    def hosts_file(self) -> str:
        """The jail's /etc/hosts: localhost and the upstreams' names."""
        lines = ["127.0.0.1 localhost", "::1 localhost ip6-localhost ip6-loopback"]
        lines += [f"{r.jail_host} {r.name}" for r in self.routes if r.name is not None]
        return "\n".join(lines) + "\n"

    def environment(self) -> dict[str, str]:
        """Proxy variables for the agent: tunnels via the proxy, upstreams directly."""
        if self.proxy_port is None:
            raise EgressError("the egress has not started")
        proxy = f"http://127.0.0.1:{self.proxy_port}"
        names = [r.name for r in self.routes if r.name]
        direct = ",".join(["localhost", "127.0.0.1", "::1", *names])
        env = {"HTTPS_PROXY": proxy, "HTTP_PROXY": proxy, "NO_PROXY": direct}
        return env | {key.lower(): value for key, value in env.items()}

    def allows(self, host: str, port: int) -> bool:
        """True for an upstream or an allowlisted host and port."""
        host = host.lower().rstrip(".")
        upstream = any(r.upstream.host.lower() == host and r.port == port for r in self.routes)
        return upstream or any(p.matches(host, port) for p in self._allowed)

    async def start(self, network: JailNetwork) -> None:
        """Serve every socket of the jail's namespace on this loop."""
        for route in self.routes:
            await self._serve(network.sockets[(route.jail_host, route.port)], self._relay(route))
        proxy = network.sockets[PROXY_BIND]
        self.proxy_port = proxy.getsockname()[1]
        await self._serve(proxy, self._proxy)
        for port in self._watched:
            await self._serve(network.sockets[("127.0.0.1", port)], self._watch(port))
        if network.sink is not None:
            await self._serve(network.sink, self._sink)

    async def close(self) -> None:
        """Stop serving and drop every open connection."""
        for server in self._servers:
            server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        self._servers.clear()

    async def _serve(self, sock: socket.socket, handler: Handler) -> None:
        async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            if len(self._tasks) >= MAX_CONNECTIONS:
                _abort(writer)
                await self.refused("127.0.0.1", 0, f"over {MAX_CONNECTIONS} open connections")
                return
            self._tasks.add(task)
            try:
                await handler(reader, writer)
            finally:
                self._tasks.discard(task)
                writer.close()

        self._servers.append(await asyncio.start_server(tracked, sock=sock))

    def _relay(self, route: Route) -> Handler:
        async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            upstream = await self._connect(route.upstream.host, route.port)
            if upstream is None:
                _abort(writer)
                return
            await splice(reader, writer, *upstream)

        return relay

    async def _connect(
        self, host: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        try:
            address = await dial_address(host, port)
            return await asyncio.wait_for(
                asyncio.open_connection(address, port), CONNECT_TIMEOUT_SECONDS
            )
        except EgressError as exc:
            await self.refused(host, port, str(exc))
        except (OSError, TimeoutError) as exc:
            await self.refused(host, port, f"upstream unreachable: {exc or 'timed out'}")
        return None

    async def _proxy(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=REQUEST_HEAD_LIMIT)
        try:
            request = await asyncio.wait_for(
                _read_request(conn, reader), REQUEST_HEAD_TIMEOUT_SECONDS
            )
        except h11.RemoteProtocolError:
            _answer(writer, conn, 400, "malformed proxy request")
            return
        except TimeoutError:
            return
        if request is None:
            return
        if request.method != b"CONNECT":
            host, port = _plain_target(request)
            _answer(writer, conn, 405, "only HTTPS (CONNECT) is proxied")
            await self.refused(host, port, "plain HTTP through the proxy")
            return
        await self._tunnel(request, conn, reader, writer)

    async def _tunnel(
        self,
        request: h11.Request,
        conn: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        try:
            host, port = split_authority(request.target.decode("ascii", "replace"), 443)
        except EgressError:
            _answer(writer, conn, 400, "bad CONNECT target")
            return
        if not self.allows(host, port):
            _answer(writer, conn, 403, f"{host}:{port} is not in this jail's egress allowlist")
            await self.refused(host, port, "not in the egress allowlist")
            return
        upstream = await self._connect(host, port)
        if upstream is None:
            _answer(writer, conn, 502, f"{host}:{port} is unreachable")
            return
        writer.write(conn.send(h11.Response(status_code=200, headers=[])) or b"")
        leftover, _ = conn.trailing_data
        if leftover:
            upstream[1].write(leftover)
        await splice(reader, writer, *upstream)

    def _watch(self, port: int) -> Handler:
        async def watch(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            _abort(writer)
            await self.refused("127.0.0.1", port, "the host's loopback services are not reachable")

        return watch

    async def _sink(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        host, port = original_destination(sock)
        _abort(writer)
        await self.refused(host, port, "direct connection outside the egress")


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _read_request(conn: h11.Connection, reader: asyncio.StreamReader) -> h11.Request | None:
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(await reader.read(4096))
            continue
        return event if isinstance(event, h11.Request) else None


def _plain_target(request: h11.Request) -> tuple[str, int]:
    target = request.target.decode("ascii", "replace")
    parts = urlsplit(target)
    if parts.hostname:
        return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    host = dict(request.headers).get(b"host", b"").decode("ascii", "replace")
    try:
        return split_authority(host, 80)
    except EgressError:
        return host, 80


def _answer(writer: asyncio.StreamWriter, conn: h11.Connection, status: int, text: str) -> None:
    body = f"dursor jail: {text}\n".encode()
    headers = [("content-type", "text/plain"), ("content-length", str(len(body)))]
    headers.append(("connection", "close"))
    with contextlib.suppress(h11.LocalProtocolError):
        writer.write(conn.send(h11.Response(status_code=status, headers=headers)) or b"")
        writer.write(conn.send(h11.Data(data=body)) or b"")
        writer.write(conn.send(h11.EndOfMessage()) or b"")


def _abort(writer: asyncio.StreamWriter) -> None:
    """Drop the connection with a reset, so the peer sees it refused at once."""
    sock = writer.get_extra_info("socket")
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def splice(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    up_reader: asyncio.StreamReader,
    up_writer: asyncio.StreamWriter,
) -> None:
    """Copy both ways until both sides have finished, then close the upstream."""
    try:
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
    finally:
        up_writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.transport.abort()
