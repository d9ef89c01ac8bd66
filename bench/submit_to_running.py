"""Run submission -> `running` seen by an SSE client: our stack vs the seed's Celery proposal.

One client measures both, one after the other in alternating blocks, on the same
Postgres server (a fresh database each) and the same Redis server (a logical DB each):
the clock starts when the POST is sent and stops when the SSE client has parsed the
frame saying `running`; the client opens the stream as soon as the POST returned the
run id, then reads on until the run's end event, so runs never queue for a worker slot.

- ours: events-gateway, run-api, auth and one agent-runner, each with its daprd (the
  real components), `command` executor with the `sleep` template; POST
  /v1/tasks/{id}/runs and GET /v1/runs/{id}/stream through the gateway.
- baseline: `bench/celery_baseline` (the seed's sections 5-6): FastAPI inserts the row
  and enqueues a Celery task on a Redis broker; the worker sets the row to `running`
  and PUBLISHes on `run:{id}:events`; the seed's SSE endpoint relays that channel.

    uv run python -m bench.submit_to_running [--runs 200] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from uuid import uuid4

import aiohttp

from bench import py_spy
from bench.celery_baseline.celery_app import make_celery
from bench.celery_baseline.schema import create_tables
from bench.celery_baseline.settings import BaselineSettings
from bench.run_api_get_run import wait_until_up
from bench.submit_latency import (
    Sample,
    Target,
    our_frame,
    run_block,
    seed_frame,
    summarise,
)
from bench.submit_profile import OurRecords, baseline_breakdown, format_breakdown, our_breakdown
from tests.support.backing import backing_services, free_port, redis_process
from tests.support.databases import DatabaseFactory
from tests.support.git_remote import make_remote
from tests.support.platform import APPS, ROOT, Platform

OURS_REDIS_DB, BASELINE_REDIS_DB = 1, 2
SIDES = ("baseline", "ours")
PHASES = ("sequential", "concurrent")
PROFILED = ("run-api", "agent-runner")


@contextlib.asynccontextmanager
async def our_platform(
    databases: DatabaseFactory, redis_host: str, workdir: Path, slots: int
) -> AsyncIterator[Platform]:
    """All four services with sidecars; the runner has a slot for every run in flight."""
    env = {
        "DURSOR_MAX_CONCURRENCY": str(slots),
        "DURSOR_MAX_ACTIVE_RUNS_PER_USER": "100000",
        "DURSOR_MAX_ACTIVE_RUNS_PER_TASK": "100000",
    }
    await asyncio.to_thread(workdir.mkdir)
    url = await databases.fresh()
    platform = Platform(
        workdir,
        url,
        redis_host,
        OURS_REDIS_DB,
        env=env,
        service_database_urls=databases.service_urls(url),
    )
    try:
        started = [platform.start(app_id) for app_id in APPS]
        await asyncio.gather(*(platform.wait_ready(r) for r in started))
        yield platform
    finally:
        platform.stop_all()


def start_process(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A child in its own session with its output in `log`."""
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env=os.environ | env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (Celery's warm shutdown), SIGKILL if it lingers."""
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def wait_for_celery(settings: BaselineSettings, timeout: float = 60.0) -> None:
    """Until a worker answers a control ping."""
    app = make_celery(settings)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if app.control.ping(timeout=1.0):
            return
    raise TimeoutError("no Celery worker answered")


@contextlib.asynccontextmanager
async def celery_baseline(
    databases: DatabaseFactory, redis_host: str, workdir: Path, slots: int
) -> AsyncIterator[tuple[str, BaselineSettings]]:
    """The seed's API (one uvicorn worker) and a prefork Celery worker; yields its URL."""
    redis_url = f"redis://{redis_host}/{BASELINE_REDIS_DB}"
    remote = f"file://{workdir / 'remote' / 'remote.git'}"
    settings = BaselineSettings(await databases.fresh(), redis_url, remote)
    await create_tables(settings.database_url)
    port = free_port()
    api_command = [sys.executable, "-m", "uvicorn", "bench.celery_baseline.api:create_app"]
    api_command += ["--factory", "--host", "127.0.0.1", "--port", str(port)]
    api_command += ["--no-access-log", "--log-level", "warning"]
    worker_command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "bench.celery_baseline.tasks:celery_app",
    ]
    worker_command += ["worker", "-Q", "agent", "--concurrency", str(slots)]
    worker_command += ["--loglevel", "WARNING"]
    env = settings.as_env()
    processes = [
        start_process(api_command, env, workdir / "baseline-api.log"),
        start_process(worker_command, env, workdir / "baseline-worker.log"),
    ]
    try:
        await wait_until_up(f"http://127.0.0.1:{port}/healthz")
        await asyncio.to_thread(wait_for_celery, settings)
        yield f"http://127.0.0.1:{port}", settings
    finally:
        for process in processes:
            stop_process(process)


async def our_target(platform: Platform, workdir: Path, agent_seconds: float) -> Target:
    """A task on the local repository, submissions of the `sleep` command template."""
    headers = platform.bearer("developer", ttl=24 * 3600)
    remote = f"file://{workdir / 'remote' / 'remote.git'}"
    async with aiohttp.ClientSession(platform.gateway.url, headers=headers) as session:
        async with session.post("/v1/repos", json={"url": remote}) as response:
            repo = await response.json()
        body = {"repo_id": repo["id"], "title": "submit-to-running"}
        async with session.post("/v1/tasks", json=body) as response:
            task = await response.json()
    return Target("ours", platform.gateway.url, task["id"], headers, str(agent_seconds), our_frame)


def baseline_target(api_url: str, agent_seconds: float) -> Target:
    """The seed's API needs no repository or task row: a task id is enough."""
    return Target("baseline", api_url, str(uuid4()), {}, str(agent_seconds), seed_frame)


async def measure(
    targets: dict[str, Target], runs: int, block: int, warmup: int, concurrency: int
) -> dict[str, dict[str, list[Sample]]]:
    """Per phase: warm both up, then alternate blocks so drift in machine load hits both."""
    samples: dict[str, dict[str, list[Sample]]] = {p: {s: [] for s in SIDES} for p in PHASES}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as session:
        for phase, in_flight in zip(PHASES, (1, concurrency), strict=True):
            for side in SIDES:
                await run_block(session, targets[side], warmup, in_flight)
            for index in range(0, runs, block):
                order = SIDES if (index // block) % 2 == 0 else SIDES[::-1]
                for side in order:
                    count = min(block, runs - index)
                    samples[phase][side] += await run_block(
                        session, targets[side], count, in_flight
                    )
                    print(f"  {phase}: {side} {len(samples[phase][side])}/{runs}", flush=True)
    return samples


def report(
    samples: dict[str, dict[str, list[Sample]]], concurrency: int, breakdowns: dict[str, str]
) -> str:
    """Both sides, their ratio, and where the time goes, per phase."""
    lines = [
        f"submit -> `running` seen by an SSE client; {os.cpu_count()} cores; "
        f"{datetime.date.today().isoformat()}"
    ]
    for phase, in_flight in zip(PHASES, (1, concurrency), strict=True):
        ours, baseline = summarise(samples[phase]["ours"]), summarise(samples[phase]["baseline"])
        lines += ["", f"{phase} ({in_flight} in flight), {ours.count} runs each"]
        lines.append(
            f"{'':24}{'p50 ms':>9}{'p99 ms':>9}{'mean ms':>9}{'max ms':>9}"
            f"{'via initial':>13}{'no run event':>14}{'no running':>12}{'not ended':>11}"
            f"{'failed':>8}"
        )
        for name, summary in (("ours (gateway + Dapr)", ours), ("seed (Celery + Redis)", baseline)):
            lines.append(f"{name:24}{summary.row()}")
        lines.append(
            f"ratio ours/baseline: p50 {ours.p50 / baseline.p50:.2f}x, "
            f"p99 {ours.p99 / baseline.p99:.2f}x"
        )
        lines += ["", breakdowns[phase]]
    return "\n".join(lines)


async def breakdowns(
    samples: dict[str, dict[str, list[Sample]]], platform: Platform, baseline_db: str
) -> dict[str, str]:
    """Per-segment p50s and p99s of both sides, from database and log timestamps."""
    result = {}
    records = OurRecords(
        platform.database_url,
        f"redis://{platform.redis_host}/{platform.redis_db}",
        platform.workdir / "logs",
    )
    for phase in PHASES:
        ours = await our_breakdown(records, samples[phase]["ours"])
        baseline = await baseline_breakdown(baseline_db, samples[phase]["baseline"])
        result[phase] = format_breakdown("ours", ours) + "\n" + format_breakdown("seed", baseline)
    return result


@contextlib.contextmanager
def scratch_directory(keep: str | None) -> Iterator[Path]:
    """Logs, the platform and the repository; removed at exit unless `keep` names it."""
    if keep:
        Path(keep).mkdir(parents=True)
        yield Path(keep)
        return
    workdir = Path(tempfile.mkdtemp(prefix="dursor-bench-s2r-"))
    try:
        yield workdir
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


async def measure_both(
    arguments: argparse.Namespace, databases: DatabaseFactory, redis_host: str, workdir: Path
) -> tuple[dict[str, dict[str, list[Sample]]], dict[str, str]]:
    """Start both stacks side by side, measure them, analyse the timestamps."""
    slots = arguments.concurrency
    await asyncio.to_thread(make_remote, workdir / "remote")
    async with (
        our_platform(databases, redis_host, workdir / "platform", slots) as platform,
        celery_baseline(databases, redis_host, workdir, slots) as (baseline_url, baseline),
    ):
        targets = {
            "ours": await our_target(platform, workdir, arguments.agent_seconds),
            "baseline": baseline_target(baseline_url, arguments.agent_seconds),
        }
        print("both stacks are up; measuring", flush=True)
        with profiled(platform, arguments.py_spy):
            samples = await measure(
                targets, arguments.runs, arguments.block, arguments.warmup, slots
            )
        return samples, await breakdowns(samples, platform, baseline.database_url)


@contextlib.contextmanager
def profiled(platform: Platform, directory: str | None) -> Iterator[None]:
    """With a directory: py-spy profiles of run-api and the agent-runner, raw and summed up."""
    if not directory:
        yield
        return
    pids = {name: platform.replica(name).app.pid for name in PROFILED}
    with py_spy.recording(pids, Path(directory)) as outputs:
        yield
    for raw in outputs.values():
        if raw.exists():
            raw.with_suffix(".txt").write_text(py_spy.summary(raw) + "\n")


async def main(arguments: argparse.Namespace) -> None:
    """One Postgres server and one Redis server for both sides; print the comparison."""
    with (
        backing_services() as backing,
        redis_process() as (redis_host, _),
        scratch_directory(arguments.keep) as workdir,
    ):
        databases = DatabaseFactory(backing.database_url)
        await databases.prepare_template()
        try:
            samples, analysed = await measure_both(arguments, databases, redis_host, workdir)
        finally:
            await databases.drop_all()
    print(report(samples, arguments.concurrency, analysed))
    if arguments.json:
        write_samples(Path(arguments.json), samples)


def write_samples(path: Path, samples: dict[str, dict[str, list[Sample]]]) -> None:
    """Every sample as JSON, for a closer look."""
    dump = {p: {s: [x.as_json() for x in v] for s, v in d.items()} for p, d in samples.items()}
    path.write_text(json.dumps(dump))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="measured runs per side and phase")
    parser.add_argument("--concurrency", type=int, default=8, help="runs in flight, phase 2")
    parser.add_argument("--block", type=int, default=50, help="runs per alternating block")
    parser.add_argument("--warmup", type=int, default=10, help="unmeasured runs per side, phase")
    parser.add_argument("--agent-seconds", type=float, default=0.5, help="the agent's sleep")
    parser.add_argument("--json", help="also write every sample to this file")
    parser.add_argument("--keep", help="a new directory to keep every service's log in")
    parser.add_argument("--py-spy", help="profile run-api and agent-runner into this directory")
    asyncio.run(main(parser.parse_args()))
