"""The agent jail, tried from inside with a shell: every escape fails and says why."""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from uuid import uuid4

import pytest
from sqlalchemy.engine import make_url

from agent_runner.sandbox import (
    EgressPolicy,
    JailLimits,
    JailRequest,
    RunDisk,
    Sandbox,
    SandboxPolicy,
    uid_processes,
)
from agent_runner.sandbox.destinations import EgressError
from agent_runner.sandbox.schemas import MiB, Upstream
from tests.support.backing import Backing

pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None,
    reason="bubblewrap (bwrap) is not installed: no jail can be built on this machine",
)

LIMITS = JailLimits(memory_bytes=256 * MiB, pids=64, cpu_cores=1.0, tmp_bytes=64 * MiB)
SECRET = "s3cr3t-" + uuid4().hex
HOST_PATH = "/usr/local/bin:/usr/bin:/bin"
# Variables bash sets itself: the same in the runner's environment and the jail's.
SHELL_SETS = {b"SHLVL", b"PWD", b"OLDPWD", b"_"}
# Forks 100 sleeping children, prints how many started and how many the kernel refused.
FORKS = """
import os, time
started = refused = 0
for _ in range(100):
    try:
        if os.fork() == 0:
            time.sleep(5)
            os._exit(0)
        started += 1
    except BlockingIOError:
        refused += 1
print(started, refused)
"""


@dataclass(frozen=True)
class Outcome:
    """How one jailed command ended, what it printed and what the jail reported."""

    returncode: int
    stdout: str
    stderr: str
    reason: str | None
    refusals: list[tuple[str, int, str]]
    left_after_exit: set[int]


@dataclass
class Tree:
    """A runner's folders: `.data` secrets, two runs' worktrees and homes."""

    root: Path
    workspace: Path
    home: Path
    other_workspace: Path
    secrets: Path


@dataclass
class HostListener:
    """A loopback service of the host (stand-in for the sidecar): counts who got through."""

    port: int
    accepted: int = 0


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Tree:
    """The runner's data folder as the jail's neighbours would find it."""
    root = tmp_path_factory.mktemp("runner")
    secrets = root / ".data" / "secrets.json"
    secrets.parent.mkdir()
    secrets.write_text(f'{{"dapr_api_token": "{SECRET}"}}')
    other = root / "runs" / "other" / "worktree"
    other.mkdir(parents=True)
    (other / "private.txt").write_text(SECRET)
    workspace, home = root / "runs" / "mine" / "worktree", root / "runs" / "mine" / "home"
    workspace.mkdir(parents=True)
    home.mkdir(parents=True)
    return Tree(root, workspace, home, other, secrets)


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


async def run_jailed(
    sandbox: Sandbox,
    tree: Tree,
    script: str,
    workspace: Path | None = None,
    egress: EgressPolicy | None = None,
) -> Outcome:
    """Run `bash -c script` in a fresh jail for the tree's run and collect what happened."""
    refusals: list[tuple[str, int, str]] = []

    async def on_refused(host: str, port: int, reason: str) -> None:
        refusals.append((host, port, reason))

    request = JailRequest(
        run_id=uuid4().hex,
        workspace=workspace or tree.workspace,
        home=tree.home,
        egress=egress or EgressPolicy(),
    )
    async with sandbox.jail(request, on_refused) as jail:
        process = await asyncio.create_subprocess_exec(
            *jail.command(["/bin/bash", "-c", script]),
            env=jail_environment(tree),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), 30)
        await asyncio.sleep(0.05)  # the refusal reports of the last connections
        left = await _settled(jail.pids)
        reason = jail.reason()
    assert not uid_processes(jail.identity.uid), "a process of the jail outlived it"
    assert process.returncode is not None
    return Outcome(process.returncode, out.decode(), err.decode(), reason, refusals, left)


def probe(host: str, port: int) -> str:
    """Shell that sends a request to host:port and prints any answer (Redis would say +PONG)."""
    return (
        f"(exec 3<>/dev/tcp/{host}/{port} && printf 'PING\\r\\n' >&3 "
        f"&& timeout 2 head -c 64 <&3 | sed 's/^/answer /'); "
    )


def environment_of(pid: int) -> list[bytes]:
    """A process's environment entries, without those bash sets itself."""
    entries = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return [entry for entry in entries if entry and entry.split(b"=")[0] not in SHELL_SETS]


def jail_environment(tree: Tree) -> dict[str, str]:
    """The environment the test hands the jail's first process (an executor's would)."""
    return {"PATH": HOST_PATH, "HOME": str(tree.home), "LANG": "C.UTF-8"}


async def _settled(pids: object) -> set[int]:
    """The jail's processes once the pid namespace had a moment to end them."""
    assert callable(pids)
    for _ in range(40):
        left: set[int] = pids()
        if not left:
            return left
        await asyncio.sleep(0.05)
    return left


async def test_the_agent_is_an_unprivileged_user_that_writes_only_its_folders(
    sandbox: Sandbox, tree: Tree
) -> None:
    script = (
        'id -u; touch w h && touch "$HOME/h" && echo wrote; '
        "touch /usr/x || echo usr-read-only; touch /etc/x || echo etc-read-only; "
        "touch /x || echo root-read-only; unshare -r true || echo no-user-namespaces; "
        "su -c id root </dev/null || echo no-setuid; "
        "grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status"
    )
    outcome = await run_jailed(sandbox, tree, script)
    lines = outcome.stdout.split()
    assert lines[0] != "0"
    assert "wrote" in lines
    assert {"usr-read-only", "etc-read-only", "root-read-only", "no-setuid"} <= set(lines)
    assert "CapEff: 0000000000000000 CapBnd: 0000000000000000 NoNewPrivs: 1" in " ".join(lines)
    if sandbox.support.unprivileged_userns:  # the inner stage forbids nested namespaces
        assert "no-user-namespaces" in lines
    assert (tree.workspace / "w").stat().st_uid not in (0, os.getuid())


async def test_secrets_outside_the_worktree_do_not_exist_inside(
    sandbox: Sandbox, tree: Tree
) -> None:
    relative = "../../../.data/secrets.json"  # the worktree is runs/mine/worktree
    outcome = await run_jailed(sandbox, tree, f"cat {tree.secrets}; cat {relative}; ls -a ../..")
    assert SECRET not in outcome.stdout
    assert outcome.returncode == 0
    assert outcome.stdout.split() == [".", "..", "mine"]
    assert outcome.stderr.count("No such file or directory") == 2


async def test_another_runs_worktree_does_not_exist_inside(sandbox: Sandbox, tree: Tree) -> None:
    outcome = await run_jailed(sandbox, tree, f"cat {tree.other_workspace}/private.txt")
    assert outcome.returncode != 0
    assert SECRET not in outcome.stdout
    assert "No such file or directory" in outcome.stderr


async def test_the_runners_processes_and_environment_are_invisible(
    sandbox: Sandbox, tree: Tree
) -> None:
    runner = os.getpid()
    script = (
        f"cat /proc/{runner}/environ; "
        "cd /proc && echo pids [0-9]*; "
        "cat /proc/[0-9]*/environ /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' '\\n'"
    )
    outcome = await run_jailed(sandbox, tree, script)
    assert "No such file or directory" in outcome.stderr
    listed = next(line for line in outcome.stdout.splitlines() if line.startswith("pids "))
    pids = [int(word) for word in listed.split()[1:]]
    assert pids
    assert max(pids) < 50, pids  # the jail's own few processes, numbered from 1
    runner_env = environment_of(runner)
    jail_env = {f"{k}={v}".encode() for k, v in jail_environment(tree).items()}
    leaked = [
        e.decode() for e in runner_env if e and e not in jail_env and e.decode() in outcome.stdout
    ]
    assert len(runner_env) > len(jail_env)
    assert leaked == []


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
    if sandbox.support.tripwire:
        assert ("10.11.12.13", 443, "direct connection outside the egress") in outcome.refusals
    assert outcome.reason is not None
    assert "refused" in outcome.reason


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
    rlimit_sandbox: Sandbox, tree: Tree
) -> None:
    model = Upstream.from_url("http://127.0.0.1:3500")  # where a sidecar would listen
    with pytest.raises(EgressError, match="operator allows loopback upstreams"):
        await run_jailed(rlimit_sandbox, tree, "true", egress=EgressPolicy(upstreams=(model,)))


async def test_a_fork_bomb_stops_at_the_task_limit(sandbox: Sandbox, tree: Tree) -> None:
    outcome = await run_jailed(sandbox, tree, "bomb() { bomb | bomb & }; bomb; sleep 2")
    assert "Resource temporarily unavailable" in outcome.stderr
    assert outcome.reason is not None
    assert f"limit of {LIMITS.pids} tasks" in outcome.reason


async def test_allocating_4_gib_is_stopped_by_the_memory_limit(
    sandbox: Sandbox, tree: Tree
) -> None:
    outcome = await run_jailed(sandbox, tree, 'python3 -c \'b = b"x" * (4 << 30); print("got")\'')
    assert "got" not in outcome.stdout
    assert outcome.returncode != 0
    assert outcome.reason is not None
    assert "ran out of memory" in outcome.reason


async def test_writing_2_gib_stops_at_the_run_disk(sandbox: Sandbox, tree: Tree) -> None:
    run_dir = tree.root / "runs" / "capped"
    disk = RunDisk(tree.root / "disks" / "capped.img", run_dir)
    await disk.attach(128 * MiB, 0, 0)
    try:
        workspace = run_dir / "worktree"
        workspace.mkdir()
        script = "dd if=/dev/zero of=big bs=1M count=2048 status=none || echo stopped"
        outcome = await run_jailed(sandbox, tree, script, workspace=workspace)
        assert "stopped" in outcome.stdout
        assert "No space left on device" in outcome.stderr
        assert outcome.reason is not None
        assert "disk is full" in outcome.reason
        assert (workspace / "big").stat().st_size < 128 * MiB
        assert disk.image.stat().st_blocks * 512 <= 128 * MiB
    finally:
        await disk.destroy()
    assert not disk.is_mounted()
    assert not disk.image.exists()


async def test_a_setsid_double_forked_child_dies_with_the_jail(
    sandbox: Sandbox, tree: Tree
) -> None:
    marker = tree.home / "escaped"
    script = f"( setsid bash -c 'sleep 0.5; echo out > {marker}; sleep 300' & ); echo started"
    outcome = await run_jailed(sandbox, tree, script)
    assert outcome.stdout.strip() == "started"
    assert outcome.left_after_exit == set()  # the pid namespace ended it, not a kill of ours
    await asyncio.sleep(1.0)
    assert not marker.exists()


@pytest.fixture(scope="module")
async def rlimit_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Sandbox:
    """A sandbox that ignores control groups: the fallback of hosts without them."""
    policy = SandboxPolicy(
        state_dir=tmp_path_factory.mktemp("rlimit-state"), limits=LIMITS, use_cgroups=False
    )
    sandbox = await Sandbox.open(policy)
    assert sandbox.support.cgroup_mode == "none"
    return sandbox


async def test_without_cgroups_rlimits_still_stop_memory_and_tasks(
    rlimit_sandbox: Sandbox, tree: Tree
) -> None:
    script = (
        "python3 -c 'b = b\"x\" * (4 << 30)' || echo memory-refused; "
        f"python3 -c {shlex.quote(FORKS)}"
    )
    outcome = await run_jailed(rlimit_sandbox, tree, script)
    assert "MemoryError" in outcome.stderr
    assert "memory-refused" in outcome.stdout
    started, refused = (int(n) for n in outcome.stdout.split()[-2:])
    assert 0 < started < LIMITS.pids
    assert refused == 100 - started
