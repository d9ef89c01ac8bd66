"""Faults survived (CI form): one platform on private PostgreSQL and Redis, a fault per test.

Each test drives a steady stream of `command` runs, each followed by an SSE watcher
through two gateway replicas, injects one fault, and holds the platform to every rule:
no accepted run lost or doubled, none left queued or running past lease + reaper
interval (+ the stated drain allowance) after recovery, every watcher's stream equal to
the event log, no 5xx but 503 with Retry-After during the outage, every replica ready
again within the stated bound. The last test is the soak's short form: two minutes of
the same load, then every process at rest must hold no more descriptors, and every app
no more memory per run, than the stated bounds. `python -m bench.chaos` runs the long
form.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tests.support.chaos.backlog import live_messages_settled, publish_run_events, stream_length
from tests.support.chaos.cluster import ChaosCluster, chaos_cluster
from tests.support.chaos.faults import (
    RECOVERY_BOUND_SECONDS,
    Pace,
    daprd_kill,
    daprd_kills,
    disk_full,
    pg_restart,
    redis_restart,
    scenario,
)
from tests.support.chaos.ledger import Verdict
from tests.support.chaos.soak import TREES, SoakResult, Usage, steady_soak
from tests.support.leak_scan import platform_secrets, scan_folder
from tests.support.platform import Replica

pytestmark = pytest.mark.e2e

CI_PACE = Pace(interval=0.5, before=1.0, after=1.0)
# Shorter than the bench's 10 s (a heartbeat every 2 s) so each check comes sooner.
CI_LEASE_SECONDS = 6.0
# A restarted sidecar's new consumer group reads the retained run-events stream: at most
# the cap (components/pubsub-broadcast.yaml, maxLenApprox 1,000) and what Redis's
# approximate trim keeps past it (less than one stream node, 100 entries).
RESTART_BACKLOG_BOUND = 1_100
# Published before the kill: past the bound, so an uncapped stream would be seen.
PUBLISHED_BEFORE_KILL = 1_500
# The soak's CI form: a warm-up (caches and pools filling), then the measured part.
# `python -m bench.chaos --soak-minutes 30` is the long form with slopes.
SOAK_WARM_UP_SECONDS, SOAK_SECONDS, SOAK_INTERVAL = 20.0, 100.0, 1.0
# A process at rest after the soak may hold more descriptors than before it: each
# database pool keeps up to 10 connections it opened under load. Leaking one per run
# would be about 100 more. PostgreSQL is held to its number of backends instead: each
# keeps the data files it touched open, so its descriptors follow the tables read.
SOAK_FD_SLACK = 14
# What an app may keep per run, at rest after the soak against at rest before it. Far
# above the bench's slopes (a few KiB per run), far below keeping a run's output.
SOAK_BYTES_PER_RUN = 64 * 1024


@pytest.fixture(scope="module")
async def cluster(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ChaosCluster]:
    """Two gateways, run-api, auth and two runners with sidecars, on servers of their own."""
    workdir = tmp_path_factory.mktemp("chaos")
    async with chaos_cluster(workdir, lease_seconds=CI_LEASE_SECONDS) as started:
        yield started
    leaks = scan_folder(workdir / "platform" / "logs", platform_secrets(started.platform.secrets))
    assert not leaks, "credentials in logs:\n" + "\n".join(map(str, leaks[:20]))


def held(verdict: Verdict, evidence: list[str]) -> None:
    """The fault really met load, and every rule held."""
    assert verdict.accepted > 0
    assert evidence == [], verdict.row()
    assert verdict.holds, verdict.row()


def test_runners_run_on_the_standard_event_loop(cluster: ChaosCluster) -> None:
    # uvloop blocks the loop from fork to exec of every git and agent process: on a busy
    # host both runners stopped answering /readyz for over 30 s (agent_runner.server).
    for runner in cluster.runners:
        mapped = Path(f"/proc/{runner.app.pid}/maps").read_text()
        assert "uvloop" not in mapped, f"{runner.name} runs on uvloop"


async def test_postgres_restart_loses_nothing(cluster: ChaosCluster) -> None:
    # The bench stops it for 10 s and for 30 s; 5 s here keeps CI short.
    verdict, evidence = await scenario(cluster, "pg-restart", pg_restart(5), CI_PACE)
    held(verdict, evidence)
    assert verdict.failed == 0, verdict.failure_reasons


async def test_killed_sidecars_are_noticed_and_come_back(cluster: ChaosCluster) -> None:
    picks: list[Callable[[ChaosCluster], Replica]] = [
        lambda c: c.gateways[0],
        lambda c: c.platform.replica("run-api"),
        lambda c: c.runners[0],
    ]
    verdict, evidence = await scenario(cluster, "daprd-kills", daprd_kills(picks), CI_PACE)
    held(verdict, evidence)
    assert verdict.failed == 0, verdict.failure_reasons
    assert sum(cluster.sidecar_restarts.values()) >= len(picks)


async def test_redis_restart_with_streams_open(cluster: ChaosCluster) -> None:
    verdict, evidence = await scenario(cluster, "redis-restart", redis_restart(2), CI_PACE)
    held(verdict, evidence)
    assert verdict.failed == 0, verdict.failure_reasons


async def test_full_disk_fails_runs_with_a_clear_reason(cluster: ChaosCluster) -> None:
    if not cluster.volume_mounted:
        pytest.skip("mounting the small volume needs root and mount(8)")
    verdict, evidence = await scenario(cluster, "disk-full", disk_full(4), CI_PACE)
    held(verdict, evidence)
    assert verdict.failed > 0
    assert all("disk is full" in reason for reason in verdict.failure_reasons), (
        verdict.failure_reasons
    )


async def test_a_restarted_gateway_sidecar_gets_a_bounded_backlog(cluster: ChaosCluster) -> None:
    # 10,000 retained events kept a restarted gateway busy for over 30 s (bench.chaos_backlog).
    platform, gateway = cluster.platform, cluster.gateways[1]
    await publish_run_events(platform.replica("run-api"), PUBLISHED_BEFORE_KILL)
    assert await stream_length(cluster.redis.host) <= RESTART_BACKLOG_BOUND
    received_before = await live_messages_settled(platform, gateway)
    restarts = cluster.sidecar_restarts.get(gateway.name, 0)
    await daprd_kill(lambda c: gateway)(cluster, Verdict("gateway sidecar restart"))
    assert cluster.sidecar_restarts[gateway.name] == restarts + 1
    await cluster.wait_all_ready(RECOVERY_BOUND_SECONDS)
    received = await live_messages_settled(platform, gateway) - received_before
    assert 0 < received <= RESTART_BACKLOG_BOUND


async def test_a_steady_soak_loses_nothing_and_leaks_no_descriptors(
    cluster: ChaosCluster,
) -> None:
    warm_up = await steady_soak(cluster, SOAK_WARM_UP_SECONDS, SOAK_INTERVAL, every=5.0)
    assert warm_up.verdict.holds, warm_up.verdict.row()
    soak = await steady_soak(cluster, SOAK_SECONDS, SOAK_INTERVAL, every=5.0)
    held(soak.verdict, [])
    assert soak.verdict.failed == 0, soak.verdict.failure_reasons
    assert soak.verdict.accepted >= SOAK_SECONDS / SOAK_INTERVAL / 4, soak.verdict.row()
    assert grown_descriptors(soak) == {}
    assert grown_memory(soak) == {}


def grown_descriptors(soak: SoakResult) -> dict[str, tuple[int, int]]:
    """Processes holding more descriptors (backends) at rest after than before, past the slack."""
    counts = {
        name: (leak_measure(name, soak.rest_before[name]), leak_measure(name, after))
        for name, after in soak.rest_after.items()
        if name in soak.rest_before
    }
    return {name: pair for name, pair in counts.items() if pair[1] > pair[0] + SOAK_FD_SLACK}


def leak_measure(name: str, usage: Usage) -> int:
    """What a process holds that a leak would grow: PostgreSQL's backends, others' fds."""
    return usage.processes if name == "postgres" else usage.fds


def grown_memory(soak: SoakResult) -> dict[str, tuple[int, int]]:
    """Our apps whose anonymous RSS at rest grew by more than the bound per accepted run.

    The sidecars are left out: a Go heap at rest sits anywhere in its collector's cycle.
    """
    before, bound = soak.rest_before, SOAK_BYTES_PER_RUN * soak.verdict.accepted
    return {
        name: (before[name].anon, after.anon)
        for name, after in soak.rest_after.items()
        if name in before
        and not name.endswith(".daprd")
        and name not in TREES
        and after.anon - before[name].anon > bound
    }
