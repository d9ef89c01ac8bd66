"""GET /v1/runs/{id} through gateway + sidecars + run-api vs the same query in a bare FastAPI app.

Both serve the same run from the same database with the same SQL (`run_api`'s
repository) and the same response model, on this machine, measured by the same load
generator (`wrk` if installed, else an aiohttp client), one after the other. The
difference is what the platform adds: the gateway app, two daprd hops (service
invocation), token verification at the edge and again in run-api, the request log and
tracing middleware.

    uv run python -m bench.run_api_get_run [--duration 10] [--connections 16] [--blocks 2]
    uv run python -m bench.run_api_get_run --profile bench/profiles/gateway.after.txt

It starts what it needs: Postgres/Redis as the tests find them (scripts/env.sh), a
Redis of its own for the platform, and gateway, run-api and auth with their sidecars.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import aiohttp
import httpx
from fastapi import FastAPI

from bench import gateway_profile
from bench.process_cpu import ProcessCpu, per_request_table, postgres_backends
from dursor_kit.db.engine import create_engine
from dursor_store import run_reads as run_sql
from run_api.runs.endpoints import run_out, single_read
from run_api.runs.schemas import RunOut
from tests.support.backing import backing_services, free_port, redis_process
from tests.support.databases import DatabaseFactory
from tests.support.platform import ROOT, Platform

BARE_DATABASE_ENV = "BENCH_DATABASE_URL"


def create_bare_app() -> FastAPI:
    """The baseline: the same query, connection and response model; no gateway, sidecar or auth."""
    engine = create_engine(os.environ[BARE_DATABASE_ENV])
    app = FastAPI()

    @app.get("/v1/runs/{run_id}", response_model=RunOut)
    async def get_run(run_id: UUID) -> RunOut:
        """One run, as run-api answers it."""
        async with single_read(engine) as conn:
            row = await run_sql.get_run(conn, run_id)
        assert row is not None
        return run_out(row)

    return app


@dataclass(frozen=True)
class Result:
    """Throughput and latency of one target."""

    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int


UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip()).groups()  # type: ignore[union-attr]
    return float(value) * UNITS[unit]


def parse_wrk(output: str) -> Result:
    """Requests/s and percentiles from `wrk --latency` output."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return Result(rps, p50, p99, int(errors.group(1)) if errors else 0)


def run_wrk(url: str, token: str | None, duration: float, connections: int) -> Result:
    """Closed-loop load with wrk (one thread: the machine's cores serve the platform)."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{int(duration)}s", "--latency", url]
    if token:
        command[1:1] = ["-H", f"Authorization: Bearer {token}"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return parse_wrk(output)


async def run_aiohttp(url: str, token: str | None, duration: float, connections: int) -> Result:
    """The same closed loop with aiohttp, for machines without wrk."""
    headers = {"authorization": f"Bearer {token}"} if token else {}
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + duration
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def worker() -> None:
            nonlocal errors
            while time.monotonic() < deadline:
                started = time.perf_counter()
                async with session.get(url) as response:
                    await response.read()
                    errors += response.status != 200
                latencies.append((time.perf_counter() - started) * 1000)

        await asyncio.gather(*(worker() for _ in range(connections)))
    cuts = statistics.quantiles(latencies, n=100)
    return Result(len(latencies) / duration, cuts[49], cuts[98], errors)


async def measure(url: str, token: str | None, duration: float, connections: int) -> Result:
    """One closed-loop block against one target with the available load generator."""
    if shutil.which("wrk"):
        return await asyncio.to_thread(run_wrk, url, token, duration, connections)
    return await run_aiohttp(url, token, duration, connections)


def mean_of(blocks: list[Result]) -> Result:
    """The blocks of one target together: mean req/s and mean of each percentile."""
    return Result(
        statistics.fmean(b.requests_per_second for b in blocks),
        statistics.fmean(b.p50_ms for b in blocks),
        statistics.fmean(b.p99_ms for b in blocks),
        sum(b.errors for b in blocks),
    )


@dataclass
class Blocks:
    """Every block's result per target, and the CPU each process spent in them."""

    results: dict[str, list[Result]]
    cpu: dict[str, dict[str, float]]
    duration: float

    def requests(self, name: str) -> float:
        """Requests served in the target's blocks."""
        return sum(r.requests_per_second * self.duration for r in self.results[name])


async def alternating(
    targets: dict[str, tuple[str, str | None]],
    arguments: argparse.Namespace,
    processes: ProcessCpu,
) -> Blocks:
    """Warm every target up, then measure them in alternating order, `blocks` times each.

    The order flips every block (A B, B A, A B …) so a change in the machine's load falls
    on both targets alike. Every process's CPU is read around each block.
    """
    duration, connections = arguments.duration, arguments.connections
    for url, token in targets.values():
        await measure(url, token, 2, connections)
    measured = Blocks({name: [] for name in targets}, {name: {} for name in targets}, duration)
    names = list(targets)
    for block in range(arguments.blocks):
        for name in names if block % 2 == 0 else names[::-1]:
            url, token = targets[name]
            before = processes.snapshot()
            measured.results[name].append(await measure(url, token, duration, connections))
            for process, seconds in processes.spent(before, processes.snapshot()).items():
                measured.cpu[name][process] = measured.cpu[name].get(process, 0.0) + seconds
    return measured


def path_processes(platform: Platform, bare_pid: int) -> ProcessCpu:
    """The processes a request can cost CPU in, by role."""
    database = platform.database_url.rsplit("/", 1)[-1].split("?", 1)[0]
    fixed = {"bare FastAPI app": bare_pid}
    for app_id in ("events-gateway", "run-api", "auth"):
        replica = platform.replica(app_id)
        fixed |= {app_id: replica.app.pid, f"{app_id} daprd": replica.daprd.pid}
    return ProcessCpu(fixed, {"postgres (this database)": lambda: postgres_backends(database)})


@contextlib.contextmanager
def bare_app(database_url: str) -> Iterator[tuple[str, int]]:
    """The baseline app under uvicorn (one worker, like every service); its URL and pid."""
    port = free_port()
    env = os.environ | {BARE_DATABASE_ENV: database_url}
    command = [sys.executable, "-m", "uvicorn", "bench.run_api_get_run:create_bare_app"]
    command += ["--factory", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--no-access-log", "--log-level", "warning"]
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    try:
        yield f"http://127.0.0.1:{port}", process.pid
    finally:
        process.terminate()
        process.wait(30)


async def wait_until_up(url: str) -> None:
    """Until the URL answers at all."""
    async with httpx.AsyncClient() as client:
        for _ in range(150):
            with contextlib.suppress(httpx.HTTPError):
                await client.get(url)
                return
            await asyncio.sleep(0.2)
    raise TimeoutError(url)


@contextlib.asynccontextmanager
async def platform_without_runner(arguments: argparse.Namespace) -> AsyncIterator[Platform]:
    """Gateway, run-api and auth with sidecars, on a fresh database and a Redis of its own.

    Spans are exported to a file per service (as the test platform does) at
    `--otel-ratio`; the sidecars log as deployed unless `--sidecar-api-logging`.
    """
    with backing_services() as backing, redis_process() as (redis_host, _):
        databases = DatabaseFactory(backing.database_url)
        await databases.prepare_template()
        workdir = Path(tempfile.mkdtemp(prefix="dursor-bench-"))
        url = await databases.fresh()
        platform = Platform(
            workdir,
            url,
            redis_host,
            0,
            env={"DURSOR_OTEL_SAMPLE_RATIO": str(arguments.otel_ratio)},
            service_database_urls=databases.service_urls(url),
            quiet_sidecars=not arguments.sidecar_api_logging,
        )
        try:
            started = [platform.start(app) for app in ("events-gateway", "run-api", "auth")]
            await asyncio.gather(*(platform.wait_ready(r) for r in started))
            yield platform
        finally:
            platform.stop_all()
            await databases.drop_all()
            shutil.rmtree(workdir, ignore_errors=True)


async def one_run(platform: Platform) -> str:
    """Create a repository, a task and a run; returns the run id."""
    headers = platform.bearer("developer")
    async with httpx.AsyncClient(base_url=platform.gateway.url, headers=headers) as client:
        repo = await client.post("/v1/repos", json={"url": "https://github.com/acme/bench"})
        task = await client.post("/v1/tasks", json={"repo_id": repo.json()["id"], "title": "b"})
        body = {"instruction": "benchmark", "executors": [{"type": "codex"}]}
        runs = await client.post(f"/v1/tasks/{task.json()['id']}/runs", json=body)
        run_id: str = runs.json()["runs"][0]["id"]
        return run_id


async def same_answer(gateway_url: str, bare_url: str, token: str) -> None:
    """Both targets must serve the identical document, or the comparison means nothing."""
    async with httpx.AsyncClient() as client:
        ours = await client.get(gateway_url, headers={"authorization": f"Bearer {token}"})
        baseline = await client.get(bare_url)
    assert ours.status_code == baseline.status_code == 200, (ours.text, baseline.text)
    assert ours.json() == baseline.json()


def report(ours: list[Result], baseline: list[Result], connections: int) -> str:
    """The table this benchmark prints: each block, then the means and their ratios."""
    generator = "wrk" if shutil.which("wrk") else "aiohttp"
    lines = [
        f"GET /v1/runs/{{id}}, {connections} connections, {generator}, {os.cpu_count()} cores, "
        f"{len(ours)} alternating blocks per target",
        f"{'':34}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}",
    ]
    for name, blocks in (
        ("gateway + sidecars (ours)", ours),
        ("bare FastAPI (baseline)", baseline),
    ):
        for index, result in enumerate(blocks, 1):
            lines.append(_row(f"{name[:26]} #{index}", result))
    mine, theirs = mean_of(ours), mean_of(baseline)
    lines += [_row("mean: gateway + sidecars", mine), _row("mean: bare FastAPI", theirs)]
    lines.append(
        f"ratio: throughput ours/baseline = "
        f"{mine.requests_per_second / theirs.requests_per_second:.2f}, "
        f"p50 ours/baseline = {mine.p50_ms / theirs.p50_ms:.1f}x, "
        f"p99 ours/baseline = {mine.p99_ms / theirs.p99_ms:.1f}x"
    )
    return "\n".join(lines)


def _row(name: str, result: Result) -> str:
    return (
        f"{name:34}{result.requests_per_second:>10.0f}{result.p50_ms:>10.2f}"
        f"{result.p99_ms:>10.2f}{result.errors:>8}"
    )


async def profile_services(
    platform: Platform, url: str, token: str, arguments: argparse.Namespace
) -> None:
    """A separate block through the gateway while py-spy samples the gateway and run-api.

    Not one of the figures: sampling costs CPU on the same cores.
    """
    outputs = {"events-gateway": arguments.profile}
    if arguments.profile_run_api:
        outputs["run-api"] = arguments.profile_run_api
    # The raw stacks stay in the temporary directory for a closer look.
    raws = {
        app_id: Path(tempfile.gettempdir()) / f"{path.stem}.raw" for app_id, path in outputs.items()
    }
    sampling = [
        asyncio.create_task(
            gateway_profile.record(platform.replica(app_id).app.pid, arguments.duration, raw)
        )
        for app_id, raw in raws.items()
    ]
    await asyncio.sleep(0.5)
    await measure(url, token, arguments.duration, arguments.connections)
    await asyncio.gather(*sampling)
    for app_id, raw in raws.items():
        how = (
            f"{app_id} under `GET /v1/runs/{{id}}` load through the gateway: "
            f"{arguments.connections} connections (wrk), {arguments.duration:g} s; `py-spy "
            f"record --rate 100 --format raw`, taken by `python -m bench.run_api_get_run "
            f"--connections {arguments.connections} --duration {arguments.duration:g} "
            f"--profile {arguments.profile}"
            + (
                f" --profile-run-api {arguments.profile_run_api}"
                if arguments.profile_run_api
                else ""
            )
            + f"` after the measured blocks; load average {os.getloadavg()[0]:.1f} at the end"
        )
        gateway_profile.write_profile(raw, outputs[app_id], how)


async def main(arguments: argparse.Namespace) -> None:
    """Start everything, check both answer alike, measure both in alternating blocks."""
    async with platform_without_runner(arguments) as platform:
        run_id = await one_run(platform)
        token = platform.mint_token("viewer", ttl=3600)
        ours_url = f"{platform.gateway.url}/v1/runs/{run_id}"
        with bare_app(platform.database_url) as (bare, bare_pid):
            await wait_until_up(f"{bare}/docs")
            bare_url = f"{bare}/v1/runs/{run_id}"
            await same_answer(ours_url, bare_url, token)
            targets = {"baseline": (bare_url, None), "ours": (ours_url, token)}
            measured = await alternating(targets, arguments, path_processes(platform, bare_pid))
        if arguments.profile:
            await profile_services(platform, ours_url, token, arguments)
    results = measured.results
    print(report(results["ours"], results["baseline"], arguments.connections))
    requests = {name: measured.requests(name) for name in results}
    print(per_request_table(measured.cpu, requests))
    means = {name: mean_of(blocks).__dict__ for name, blocks in results.items()}
    print(json.dumps(means | {"load_average": os.getloadavg()}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per block")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--blocks", type=int, default=2, help="alternating blocks per target")
    parser.add_argument(
        "--profile", type=Path, help="also sample the gateway with py-spy into this text file"
    )
    parser.add_argument(
        "--otel-ratio",
        type=float,
        default=1.0,
        help="DURSOR_OTEL_SAMPLE_RATIO of every service (1.0: every request traced, as deployed)",
    )
    parser.add_argument(
        "--sidecar-api-logging",
        action="store_true",
        help="sidecars log every API call at info (the test platform's default), not as deployed",
    )
    parser.add_argument(
        "--profile-run-api", type=Path, help="with --profile: run-api's profile into this file"
    )
    asyncio.run(main(parser.parse_args()))
