"""The chaos platform: every service with its sidecar on private PostgreSQL and Redis.

Two gateway and two agent-runner replicas (more runners on demand), run-api and auth,
each with a real daprd; the runners' workspaces and the artifacts live on one small
volume (a tmpfs where this host lets us mount one) that a fault can fill.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.chaos.backing import PrivatePostgres, PrivateRedis
from tests.support.databases import DatabaseFactory
from tests.support.platform import COMMAND_TEMPLATES, Platform, Replica

LEASE_SECONDS = 10.0
SLOTS_PER_RUNNER = 4
REAPER_SECONDS = 1.0
# A chaos run: ten lines 0.2 s apart, each naming the run's token, then a file changed.
CHAOS_TEMPLATE = [
    "sh",
    "-c",
    'i=0; while [ "$i" -lt 10 ]; do i=$((i+1)); echo "$1 line $i"; sleep 0.2; done; '
    'echo "$1" >> NOTES.md',
    "dursor",
    "{instruction}",
]
BURST_TEMPLATE = ["sh", "-c", 'sleep 2; echo "$1" >> NOTES.md', "dursor", "{instruction}"]
PLATFORM_ENV = {
    "DURSOR_REAPER_INTERVAL_SECONDS": str(REAPER_SECONDS),
    "DURSOR_PULL_INTERVAL_SECONDS": "1",
    "DURSOR_MAX_CONCURRENCY": str(SLOTS_PER_RUNNER),
    "DURSOR_DRAIN_SECONDS": "2",
    "DURSOR_KILL_GRACE_SECONDS": "2",
    "DURSOR_MAX_ACTIVE_RUNS_PER_USER": "100000",
    "DURSOR_MAX_ACTIVE_RUNS_PER_TASK": "100000",
    "DURSOR_LOG_BATCH_SECONDS": "0.05",
    "DURSOR_JANITOR_IDLE_SECONDS": "30",
    "DURSOR_JANITOR_INTERVAL_SECONDS": "10",
    "DURSOR_COMMAND_TEMPLATES": json.dumps(
        COMMAND_TEMPLATES | {"chaos": CHAOS_TEMPLATE, "burst": BURST_TEMPLATE}
    ),
}
VOLUME_BYTES = 1024 * 1024 * 1024


def can_mount_volume() -> bool:
    """True when this process may mount a tmpfs (root with `mount`)."""
    return os.geteuid() == 0 and shutil.which("mount") is not None


@dataclass
class ChaosCluster:
    """The platform, its private servers, and the volume under workspaces and artifacts."""

    platform: Platform
    postgres: PrivatePostgres
    redis: PrivateRedis
    volume: Path
    volume_mounted: bool
    lease_seconds: float = LEASE_SECONDS
    runner_count: int = 0
    sidecar_restarts: dict[str, int] = field(default_factory=dict)

    @property
    def apps(self) -> list[Replica]:
        """Every replica started, live or not."""
        return self.platform.replicas

    @property
    def gateways(self) -> list[Replica]:
        """The gateway replicas."""
        return [r for r in self.apps if r.app_id == "events-gateway"]

    @property
    def runners(self) -> list[Replica]:
        """The agent-runner replicas still running."""
        return [r for r in self.apps if r.app_id == "agent-runner" and r.app.poll() is None]

    @property
    def slots(self) -> int:
        """Run slots of every live runner together."""
        return SLOTS_PER_RUNNER * len(self.runners)

    def start_runner(self) -> Replica:
        """One more agent-runner replica with its workspaces on the volume."""
        name = f"agent-runner-{self.runner_count}"
        self.runner_count += 1
        workspaces = self.volume / "workspaces" / name
        return self.platform.start(
            "agent-runner", name, env={"DURSOR_WORKSPACES_DIR": str(workspaces)}
        )

    async def stop_runner(self, replica: Replica) -> None:
        """Stop a runner replica (it drains and releases what it holds)."""
        await asyncio.to_thread(replica.stop, 30)

    async def all_ready(self, timeout: float = 2.0) -> dict[str, bool]:
        """Each live replica's `/readyz` answer right now (True for 200)."""
        async with httpx.AsyncClient(timeout=timeout) as client:
            live = [r for r in self.apps if r.app.poll() is None]
            answers = await asyncio.gather(*(_ready(client, r) for r in live))
        return {r.name: ok for r, ok in zip(live, answers, strict=True)}

    async def wait_all_ready(self, timeout: float) -> float:
        """Seconds until every live replica answers ready; TimeoutError after `timeout`."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if all((await self.all_ready()).values()):
                return time.monotonic() - started
            await asyncio.sleep(0.25)
        raise TimeoutError(f"not ready after {timeout}s: {await self.readiness_detail()}")

    async def readiness_detail(self, timeout: float = 10.0) -> dict[str, str]:
        """Each live replica's `/readyz` status, body and seconds taken (why it is not ready)."""
        async with httpx.AsyncClient(timeout=timeout) as client:
            live = [r for r in self.apps if r.app.poll() is None]
            answers = await asyncio.gather(*(_ready_detail(client, r) for r in live))
        return {r.name: answer for r, answer in zip(live, answers, strict=True)}


async def supervise(cluster: ChaosCluster, delay: float = 2.0) -> None:
    """Start again every sidecar that died while its app runs, after `delay` seconds.

    Container Apps does this for a sidecar container; `dapr run -f` does not (it logs the
    exit and leaves the app without its sidecar). A daprd that starts while Redis is down
    exits again (its pub/sub component cannot initialise), so this keeps trying.
    """
    dead_since: dict[str, float] = {}
    while True:
        for replica in cluster.apps:
            if replica.app.poll() is not None or replica.daprd.poll() is None:
                dead_since.pop(replica.name, None)
                continue
            since = dead_since.setdefault(replica.name, time.monotonic())
            if time.monotonic() - since >= delay:
                cluster.platform.restart_daprd(replica)
                restarts = cluster.sidecar_restarts
                restarts[replica.name] = restarts.get(replica.name, 0) + 1
                dead_since.pop(replica.name)
        await asyncio.sleep(0.5)


async def _ready(client: httpx.AsyncClient, replica: Replica) -> bool:
    try:
        return (await client.get(f"{replica.url}/readyz")).status_code == 200
    except httpx.HTTPError:
        return False


async def _ready_detail(client: httpx.AsyncClient, replica: Replica) -> str:
    started = time.monotonic()
    try:
        response = await client.get(f"{replica.url}/readyz")
        answer = f"{response.status_code} {response.text[:120]}"
    except httpx.HTTPError as exc:
        answer = repr(exc)[:120]
    return f"{answer} in {time.monotonic() - started:.1f}s"


def _mount_volume(volume: Path) -> bool:
    volume.mkdir(parents=True, exist_ok=True)
    if not can_mount_volume():
        return False
    size = f"size={VOLUME_BYTES // (1024 * 1024)}m"
    subprocess.run(["mount", "-t", "tmpfs", "-o", size, "tmpfs", str(volume)], check=True)
    return True


def _unmount_volume(volume: Path) -> None:
    subprocess.run(["umount", "-l", str(volume)], check=False, capture_output=True)


@contextlib.asynccontextmanager
async def chaos_cluster(
    workdir: Path,
    runners: int = 2,
    lease_seconds: float = LEASE_SECONDS,
    prepare: Callable[[Platform], None] | None = None,
) -> AsyncIterator[ChaosCluster]:
    """Private servers, a migrated database, and the platform with all replicas ready.

    `prepare` may change the platform (its copy of components/) before any replica starts.
    """
    postgres = await asyncio.to_thread(PrivatePostgres().init)
    redis = await asyncio.to_thread(PrivateRedis().start)
    volume = workdir / "volume"
    mounted = _mount_volume(volume)
    databases = DatabaseFactory(postgres.url)
    platform: Platform | None = None
    try:
        await databases.prepare_template()
        url = await databases.fresh()
        env = PLATFORM_ENV | {
            "DURSOR_ARTIFACTS_DIR": str(volume / "artifacts"),
            "DURSOR_LEASE_SECONDS": str(lease_seconds),
        }
        (workdir / "platform").mkdir(parents=True, exist_ok=True)
        platform = Platform(
            workdir / "platform",
            url,
            redis.host,
            0,
            env=env,
            service_database_urls=databases.service_urls(url),
        )
        if prepare is not None:
            prepare(platform)
        cluster = ChaosCluster(platform, postgres, redis, volume, mounted, lease_seconds)
        replicas = [platform.start(a) for a in ("events-gateway", "events-gateway", "run-api")]
        replicas += [platform.start("auth")] + [cluster.start_runner() for _ in range(runners)]
        await asyncio.gather(*(platform.wait_ready(r, timeout=180) for r in replicas))
        supervisor = asyncio.create_task(supervise(cluster))
        try:
            yield cluster
        finally:
            supervisor.cancel()
    finally:
        if platform is not None:
            await asyncio.to_thread(platform.stop_all)
        await asyncio.to_thread(redis.destroy)
        await asyncio.to_thread(postgres.destroy)
        if mounted:
            _unmount_volume(volume)
