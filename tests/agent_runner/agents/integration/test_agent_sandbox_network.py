"""The agent jail's network, tried from inside: only its model and the allowlist answer."""

from __future__ import annotations

import asyncio
import shlex
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from uuid import uuid4

import pytest
from sqlalchemy.engine import make_url

from agent_runner.agents.sandbox import EgressPolicy, Sandbox, SandboxPolicy
from agent_runner.agents.sandbox.destinations import EgressError
from agent_runner.agents.sandbox.egress import MAX_CONNECTIONS
from agent_runner.agents.sandbox.schemas import Upstream
from tests.support.backing import Backing
from tests.support.jailed_shell import (
    LIMITS,
    Tree,
    make_tree,
    probe,
    requires_bwrap,
    run_jailed,
)

pytestmark = requires_bwrap


@dataclass
class HostListener:
    """A loopback service of the host (stand-in for the sidecar): counts who got through."""

    port: int
    accepted: int = 0


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Tree:
    """The runner's folders around the jailed run."""
    return make_tree(tmp_path_factory.mktemp("runner"))


@pytest.fixture(scope="module")
async def host_listener() -> AsyncIterator[HostListener]:
    """A TCP service on the host's 127.0.0.1 that a jailed agent must not reach."""
    listener = HostListener(port=0)

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        listener.accepted += 1
        writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    listener.port = server.sockets[0].getsockname()[1]
    yield listener
    server.close()


@pytest.fixture(scope="module")
async def allowed_server() -> AsyncIterator[int]:
    """A plain HTTP server on the host that the operator's allowlist names."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        body = b"hello from the allowed host"
        head = f"HTTP/1.1 200 OK\r\ncontent-length: {len(body)}\r\nconnection: close\r\n\r\n"
        writer.write(head.encode() + body)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()


@pytest.fixture(scope="module")
def backing_ports(backing: Backing) -> tuple[int, int]:
    """The real Postgres and Redis ports of this test session."""
    postgres = make_url(backing.database_url).port or 5432
    redis = int(backing.redis_host.rpartition(":")[2])
    return postgres, redis


@pytest.fixture(scope="module")
async def sandbox(
    tmp_path_factory: pytest.TempPathFactory,
    host_listener: HostListener,
    allowed_server: int,
    backing_ports: tuple[int, int],
) -> Sandbox:
    """One jail-capable sandbox for the module: every test builds its jails with it."""
    policy = SandboxPolicy(
        state_dir=tmp_path_factory.mktemp("sandbox-state"),
        limits=LIMITS,
        allowed_hosts=(f"127.0.0.1:{allowed_server}", f"localhost:{allowed_server}"),
        watched_ports=(host_listener.port, *backing_ports),
        allow_loopback_upstreams=True,  # the stand-in model server listens on 127.0.0.1
    )
    sandbox = await Sandbox.open(policy)
    assert sandbox.verdict.jailed, sandbox.support.problems
    return sandbox


async def test_the_hosts_loopback_services_are_unreachable_and_reported(
    sandbox: Sandbox, tree: Tree, host_listener: HostListener, backing_ports: tuple[int, int]
) -> None:
    ports = (host_listener.port, *backing_ports)
    outcome = await run_jailed(sandbox, tree, "".join(probe("127.0.0.1", p) for p in ports))
    assert "answer" not in outcome.stdout
    assert host_listener.accepted == 0
    assert {(host, port) for host, port, _ in outcome.refusals} == {("127.0.0.1", p) for p in ports}
    assert all("loopback services are not reachable" in why for *_, why in outcome.refusals)
    assert outcome.reason == f"the jail refused {len(ports)} network connection(s)"


async def test_the_hosts_abstract_unix_sockets_are_unreachable(
    sandbox: Sandbox, tree: Tree
) -> None:
    name = f"\0dursor-sandbox-test-{uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(name)
        listener.listen()
        listener.setblocking(False)
        connect = f"import socket; socket.socket(socket.AF_UNIX).connect({name!r})"
        outcome = await run_jailed(sandbox, tree, f"python3 -c {shlex.quote(connect)}")
        with pytest.raises(BlockingIOError):
            listener.accept()
    assert "ConnectionRefusedError" in outcome.stderr


async def test_a_host_outside_the_allowlist_is_refused_and_reported(
    sandbox: Sandbox, tree: Tree
) -> None:
    script = "curl -sS -m 5 -o /dev/null https://pypi.org/simple/ || echo proxy-refused; " + probe(
        "10.11.12.13", 443
    )
    outcome = await run_jailed(sandbox, tree, script)
    assert "proxy-refused" in outcome.stdout
    assert "answer" not in outcome.stdout
    assert "403" in outcome.stderr
    assert ("pypi.org", 443, "not in the egress allowlist") in outcome.refusals
    if sandbox.support.tripwire:  # reported, then reset at once (not left to time out)
        assert ("10.11.12.13", 443, "direct connection outside the egress") in outcome.refusals
        assert "Connection reset by peer" in outcome.stderr
    else:
        assert "Network is unreachable" in outcome.stderr
    assert outcome.reason is not None
    assert "refused" in outcome.reason


# Opens 300 connections to the jail's proxy and holds them; prints how many the runner
# reset (waiting up to 10 s for the expected number, then a moment more for any extra).
HOLD_CONNECTIONS = """
import os, socket, sys, time
expected = int(sys.argv[1])
port = int(os.environ["HTTPS_PROXY"].rpartition(":")[2])
held = [socket.create_connection(("127.0.0.1", port)) for _ in range(300)]
for sock in held:
    sock.setblocking(False)
def resets():
    count = 0
    for sock in held:
        try:
            sock.recv(1)
        except ConnectionResetError:
            count += 1
            sock.close()
        except (BlockingIOError, OSError):
            pass
    return count
reset, deadline = 0, time.monotonic() + 10
while reset < expected and time.monotonic() < deadline:
    time.sleep(0.1)
    reset += resets()
time.sleep(0.3)
print(reset + resets())
"""


async def test_a_jail_cannot_hold_more_than_its_share_of_the_runners_sockets(
    sandbox: Sandbox, tree: Tree
) -> None:
    over_cap = 300 - MAX_CONNECTIONS
    script = f"python3 -c {shlex.quote(HOLD_CONNECTIONS)} {over_cap}"
    outcome = await run_jailed(sandbox, tree, script)
    assert outcome.stdout.strip().isdigit(), outcome  # what ended it, when it printed nothing
    assert int(outcome.stdout) == over_cap
    over = [r for r in outcome.refusals if r[2] == f"over {MAX_CONNECTIONS} open connections"]
    assert len(over) == over_cap
    assert outcome.reason == f"the jail refused {over_cap} network connection(s)"


async def test_an_allowlisted_host_is_reached_through_the_proxy(
    sandbox: Sandbox, tree: Tree, allowed_server: int
) -> None:
    url = f"http://127.0.0.1:{allowed_server}/"
    script = (
        f'curl -sS -m 5 --noproxy "" --proxytunnel -x "$HTTPS_PROXY" {url}; echo; '
        f"curl -sS -m 5 {url}"
    )
    outcome = await run_jailed(sandbox, tree, script)
    assert outcome.stdout.splitlines()[0] == "hello from the allowed host"
    # Without the proxy the host's server is not there: the jail's loopback is its own.
    assert "Failed to connect to 127.0.0.1" in outcome.stderr
    assert outcome.refusals == []


async def test_an_allowlisted_name_that_resolves_to_the_host_is_refused(
    sandbox: Sandbox, tree: Tree, allowed_server: int
) -> None:
    url = f"http://localhost:{allowed_server}/"
    script = f'curl -sS -m 5 --noproxy "" --proxytunnel -x "$HTTPS_PROXY" {url}'
    outcome = await run_jailed(sandbox, tree, script)
    assert "hello" not in outcome.stdout
    assert "CONNECT tunnel failed, response 502" in outcome.stderr
    reason = "localhost resolves to 127.0.0.1, an address of the host itself"
    assert outcome.refusals == [("localhost", allowed_server, reason)]


async def test_the_model_upstream_is_reached_directly_at_its_base_url(
    sandbox: Sandbox, tree: Tree, allowed_server: int
) -> None:
    model = Upstream.from_url(f"http://127.0.0.1:{allowed_server}")
    script = f"curl -sS -m 5 http://127.0.0.1:{allowed_server}/v1/messages"
    outcome = await run_jailed(sandbox, tree, script, egress=EgressPolicy(upstreams=(model,)))
    assert outcome.stdout == "hello from the allowed host"
    assert outcome.refusals == []


async def test_a_loopback_model_upstream_needs_the_operators_consent(
    tree: Tree, tmp_path: Path
) -> None:
    strict = await Sandbox.open(SandboxPolicy(state_dir=tmp_path, limits=LIMITS))
    model = Upstream.from_url("http://127.0.0.1:3500")  # where a sidecar would listen
    with pytest.raises(EgressError, match="operator allows loopback upstreams"):
        await run_jailed(strict, tree, "true", egress=EgressPolicy(upstreams=(model,)))
