"""A malicious `command` template run through the whole platform, in the run's jail.

The template tries what issue 12 lists for a shell: read the platform's secret file and
the runner's environment, reach the runner's sidecar, Postgres and Redis. In a jail each
attempt fails and the probes of watched ports show in the run's log; on a host that
cannot jail, the run is refused with the reason. Either way nothing of the runner's
environment reaches an event or the patch.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from agent_runner.agents.sandbox import SandboxPolicy
from agent_runner.agents.sandbox.host import probe
from tests.conftest import running_platform
from tests.support.backing import Backing
from tests.support.databases import DatabaseFactory
from tests.support.git_remote import make_remote
from tests.support.platform import COMMAND_TEMPLATES, Platform
from tests.support.sse import Frame, collect

pytestmark = pytest.mark.e2e

# $1 holds "<secrets file> <runner pid> <sidecar port> <Postgres port> <Redis port>".
# Each probe speaks the service's protocol: any byte back means the service answered.
ESCAPE = r"""
probe() {
  got=$( (exec 3<>"/dev/tcp/127.0.0.1/$1" && printf "$2" >&3 \
    && timeout 2 head -c 1 <&3 | wc -c) 2>/dev/null)
  if [ "$got" = 1 ]; then echo "LEAK port $1 answered"; else echo "blocked: port $1"; fi
}
set -- $1
if cat "$1" 2>/dev/null; then echo "LEAK read $1"; else echo "blocked: secrets"; fi
if tr '\0' '\n' < "/proc/$2/environ" 2>/dev/null; then echo "LEAK environ";
else echo "blocked: environ"; fi
probe "$3" 'GET /v1.0/healthz HTTP/1.0\r\n\r\n'
probe "$4" '\000\000\000\010\004\322\026\057'
probe "$5" 'PING\r\n'
env | sort > SEEN_ENV.txt
echo attempted > ATTACK.md
"""
TEMPLATES = COMMAND_TEMPLATES | {"escape": ["bash", "-c", ESCAPE, "dursor", "{instruction}"]}


def backing_ports(backing: Backing, database_url: str) -> list[int]:
    """Postgres' and Redis' ports on this host."""
    return [int(make_url(database_url).port or 5432), int(backing.redis_host.rpartition(":")[2])]


@pytest.fixture(scope="module")
async def jailed_platform(
    backing: Backing, databases: DatabaseFactory, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Platform]:
    """A platform whose agent-runner starts every agent in a jail (the sidecar is watched)."""
    workdir = tmp_path_factory.mktemp("jailed")
    env = {
        # The default sandbox (`jail`) with the degrade refused explicitly.
        "DURSOR_SANDBOX_ALLOW_UNJAILED": "false",
        "DURSOR_SANDBOX_STATE_DIR": str(workdir / "sandbox"),
        "DURSOR_SANDBOX_WATCHED_PORTS": json.dumps(backing_ports(backing, backing.database_url)),
        "DURSOR_COMMAND_TEMPLATES": json.dumps(TEMPLATES),
    }
    async with running_platform(backing, databases, workdir, env) as platform:
        yield platform


async def host_can_jail(tmp_path: Path) -> bool:
    """What the agent-runner's own probe says about this host."""
    return (await probe(SandboxPolicy(state_dir=tmp_path))).can_jail


async def run_template(
    platform: Platform, remote: Path, template: str, instruction: str
) -> tuple[dict[str, Any], list[Frame], str]:
    """Submit one `command` run and wait for its end: the run, its frames and its patch."""
    headers = {"authorization": f"Bearer {await platform.token()}"}
    async with httpx.AsyncClient(
        base_url=platform.gateway.url, headers=headers, timeout=60
    ) as client:
        repo = await client.post("/v1/repos", json={"url": f"file://{remote}"})
        task = await client.post("/v1/tasks", json={"repo_id": repo.json()["id"], "title": "jail"})
        accepted = await client.post(
            f"/v1/tasks/{task.json()['id']}/runs",
            json={
                "instruction": instruction,
                "executors": [{"type": "command", "options": {"template": template}}],
            },
        )
        assert accepted.status_code == 202, accepted.text
        run_id = accepted.json()["runs"][0]["id"]
        _, frames = await collect(client, f"/v1/runs/{run_id}/stream", headers, timeout=120)
        final = (await client.get(f"/v1/runs/{run_id}")).json()
        patch = await client.get(f"/v1/runs/{run_id}/patch")
    return final, frames, patch.text if patch.status_code == 200 else ""


def log_lines(frames: list[Frame]) -> list[str]:
    """Every log line of the run, in order."""
    return [line for f in frames if f.event == "log" for line in f.json["data"]["lines"]]


async def test_a_malicious_template_reaches_nothing_of_the_runner(
    jailed_platform: Platform, backing: Backing, tmp_path: Path
) -> None:
    runner = jailed_platform.replica("agent-runner")
    ports = [runner.dapr_http_port, *backing_ports(backing, backing.database_url)]
    target = f"{jailed_platform.secrets_file} {runner.app.pid} {' '.join(map(str, ports))}"
    final, frames, patch = await run_template(
        jailed_platform, make_remote(tmp_path), "escape", target
    )
    lines = log_lines(frames)
    # The probes work: run unjailed on this host, every service answers them.
    unjailed = await asyncio.create_subprocess_exec(
        *["bash", "-c", ESCAPE, "dursor", f"/nonexistent 0 {' '.join(map(str, ports))}"],
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
    )
    out = (await asyncio.wait_for(unjailed.communicate(), 30))[0].decode()
    assert [f"LEAK port {port} answered" for port in ports] == [
        line for line in out.splitlines() if line.startswith("LEAK port")
    ], out

    if await host_can_jail(tmp_path / "probe"):
        assert final["status"] == "succeeded", final
        assert not [line for line in lines if "LEAK" in line], lines
        expected = ["blocked: secrets", "blocked: environ"]
        expected += [f"blocked: port {port}" for port in ports]
        assert [line for line in lines if line.startswith("blocked: ")] == expected
        for port in ports:
            assert any(f"jail refused a connection to 127.0.0.1:{port}" in x for x in lines), port
        assert any(x.startswith("jail: the jail refused") for x in lines), lines
        assert "+attempted" in patch
    else:
        assert final["status"] == "failed", final
        assert "cannot be jailed on this host" in final["error"]
        assert not [line for line in lines if "LEAK" in line or "blocked" in line], lines

    everything = json.dumps([f.json for f in frames]) + json.dumps(final) + patch
    secrets = [value for value in jailed_platform.secrets.values() if len(value) >= 8]
    assert secrets
    assert not [name for name, v in jailed_platform.secrets.items() if v in everything]


async def test_a_plain_template_works_in_the_jail(
    jailed_platform: Platform, tmp_path: Path
) -> None:
    final, frames, patch = await run_template(
        jailed_platform, make_remote(tmp_path), "append-note", "hello from the jail"
    )
    if await host_can_jail(tmp_path / "probe"):
        assert final["status"] == "succeeded", final
        assert "wrote NOTES.md" in log_lines(frames)
        assert "+hello from the jail" in patch
    else:
        assert final["status"] == "failed", final
        assert "cannot be jailed on this host" in final["error"]
