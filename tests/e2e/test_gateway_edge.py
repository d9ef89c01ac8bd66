"""The gateway's edge through real sidecars: cursors, 4xx, task streams, pings, limits, proxies."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import running_platform
from tests.support.git_remote import make_remote
from tests.support.platform import ROOT, Platform
from tests.support.sse import Frame, frames

pytestmark = pytest.mark.e2e

ALLOWED_ORIGIN = "https://app.dursor.example"
EDGE_ENV = {
    "DURSOR_LOG_BATCH_SECONDS": "0.02",
    "DURSOR_CORS_ORIGINS": f'["{ALLOWED_ORIGIN}"]',
    "DURSOR_SSE_PING_SECONDS": "0.3",
    "DURSOR_SSE_MAX_LIFETIME_SECONDS": "4",
    "DURSOR_RATE_LIMIT_PER_SECOND": "10",
    "DURSOR_RATE_LIMIT_BURST": "30",
    "OTEL_BSP_SCHEDULE_DELAY": "200",  # spans reach their file within a fraction of a second
}
TERMINAL = {"completed", "failed", "cancelled", "timed_out"}


@pytest.fixture(scope="module")
async def edge(
    backing: Any, databases: Any, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Platform]:
    """One replica of each service; short pings and lifetime, a low rate limit, CORS."""
    async with running_platform(
        backing, databases, tmp_path_factory.mktemp("edge"), EDGE_ENV
    ) as platform:
        yield platform


async def new_task(
    platform: Platform, remote: Path, executors: list[dict[str, Any]], instruction: str
) -> dict[str, Any]:
    """A task with one run per executor; returns the accepted body (task id, runs)."""
    task_id = await platform.new_task(f"file://{remote}", "edge")
    async with httpx.AsyncClient(
        base_url=platform.gateway.url, headers=platform.bearer("developer"), timeout=30
    ) as client:
        accepted = await client.post(
            f"/v1/tasks/{task_id}/runs",
            json={"instruction": instruction, "executors": executors},
        )
    assert accepted.status_code == 202, accepted.text
    body: dict[str, Any] = accepted.json() | {"task_id": task_id}
    return body


def chatty(lines: int) -> tuple[list[dict[str, Any]], str]:
    """Executors and instruction of one `chatty` run printing `lines` lines."""
    return [{"type": "command", "options": {"template": "chatty"}}], str(lines)


async def follow(platform: Platform, path: str, last_id: str | None = None) -> list[Frame]:
    """A run stream to its end, reconnecting on `reconnect` as EventSource does."""
    got: list[Frame] = []
    async with httpx.AsyncClient(base_url=platform.gateway.url, timeout=60) as client:
        while True:
            headers = platform.bearer("viewer") | ({"last-event-id": last_id} if last_id else {})
            told_to_reconnect = False
            async with client.stream("GET", path, headers=headers) as response:
                if response.status_code == 204:
                    return got
                assert response.status_code == 200
                async for frame in frames(response):
                    told_to_reconnect = frame.event == "reconnect"
                    if not told_to_reconnect:
                        got.append(frame)
                    last_id = frame.id
            if not told_to_reconnect:
                return got


@pytest.fixture(scope="module")
async def finished_run(edge: Platform, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A run that has ended, with every frame of its stream."""
    accepted = await new_task(edge, make_remote(tmp_path_factory.mktemp("remote")), *chatty(5))
    run = accepted["runs"][0]
    seen = await follow(edge, f"/v1/runs/{run['id']}/stream")
    assert seen[-1].event == "completed"
    return {"id": run["id"], "task_id": accepted["task_id"], "frames": seen}


async def problem(
    platform: Platform, path: str, headers: dict[str, str], params: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    """Status and problem+json body of a request expected to fail."""
    async with httpx.AsyncClient(base_url=platform.gateway.url, timeout=30) as client:
        response = await client.get(path, headers=headers, params=params)
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == response.status_code
    return response.status_code, body


@pytest.mark.parametrize(
    ("last_event_id", "expected_type"),
    [
        ("abc", "invalid-last-event-id"),
        ("-1", "invalid-last-event-id"),
        ("3.5", "invalid-last-event-id"),
        ("9" * 40, "invalid-last-event-id"),
        ("99999", "foreign-last-event-id"),
    ],
)
async def test_a_bad_run_cursor_gets_400(
    edge: Platform, finished_run: dict[str, Any], last_event_id: str, expected_type: str
) -> None:
    path = f"/v1/runs/{finished_run['id']}/stream"
    for headers, params in (
        (edge.bearer("viewer") | {"last-event-id": last_event_id}, None),
        (edge.bearer("viewer"), {"last_event_id": last_event_id}),
    ):
        status, body = await problem(edge, path, headers, params)
        assert status == 400
        assert body["type"].endswith(expected_type)


async def test_a_bad_or_foreign_task_cursor_gets_400(
    edge: Platform, finished_run: dict[str, Any], tmp_path: Path
) -> None:
    other = await new_task(edge, make_remote(tmp_path), *chatty(1))
    run_hex = uuid.UUID(finished_run["id"]).hex
    cases = {
        "not-a-cursor": "invalid-last-event-id",
        f"{run_hex}:x": "invalid-last-event-id",
        f"{run_hex}:99999": "foreign-last-event-id",
        f"{uuid.UUID(other['runs'][0]['id']).hex}:0": "foreign-last-event-id",
        f"{uuid.uuid4().hex}:1": "foreign-last-event-id",
    }
    for cursor, expected_type in cases.items():
        status, body = await problem(
            edge,
            f"/v1/tasks/{finished_run['task_id']}/stream",
            edge.bearer("viewer") | {"last-event-id": cursor},
        )
        assert (status, body["type"].rsplit("/", 1)[-1]) == (400, expected_type), cursor


async def test_unknown_run_and_task_get_404(edge: Platform) -> None:
    for path in (f"/v1/runs/{uuid.uuid4()}/stream", f"/v1/tasks/{uuid.uuid4()}/stream"):
        status, _ = await problem(edge, path, edge.bearer("viewer"))
        assert status == 404


async def test_missing_expired_forged_or_roleless_tokens_get_401(
    edge: Platform, finished_run: dict[str, Any]
) -> None:
    path = f"/v1/runs/{finished_run['id']}/stream"
    for headers in (
        {},
        edge.bearer("viewer") | {"authorization": "Bearer not-a-jwt"},
        edge.bearer("viewer", exp=int(time.time()) - 600, iat=int(time.time()) - 4000),
        edge.bearer("viewer", roles=[]),
    ):
        status, body = await problem(edge, path, headers)
        assert status == 401, headers
        assert body["detail"]


async def test_resuming_a_finished_run_sends_the_rest_then_204_at_its_end(
    edge: Platform, finished_run: dict[str, Any]
) -> None:
    path = f"/v1/runs/{finished_run['id']}/stream"
    everything: list[Frame] = finished_run["frames"]
    rest = await follow(edge, path, everything[1].id)
    assert rest == everything[2:]
    async with httpx.AsyncClient(base_url=edge.gateway.url, timeout=30) as client:
        at_end = await client.get(
            path, headers=edge.bearer("viewer") | {"last-event-id": everything[-1].id or ""}
        )
    assert at_end.status_code == 204


async def read_task_stream(
    platform: Platform, task_id: str, runs: int, last_id: str | None, limit: int
) -> list[Frame]:
    """Up to `limit` frames of a task stream, or until every run has ended."""
    headers = platform.bearer("viewer") | ({"last-event-id": last_id} if last_id else {})
    got: list[Frame] = []
    async with (
        httpx.AsyncClient(base_url=platform.gateway.url, timeout=60) as client,
        client.stream("GET", f"/v1/tasks/{task_id}/stream", headers=headers) as response,
    ):
        assert response.status_code == 200
        async for frame in frames(response):
            if frame.event == "reconnect":
                break
            got.append(frame)
            ended = sum(f.event in TERMINAL for f in got)
            if len(got) >= limit or ended == runs:
                break
    return got


async def test_a_task_stream_carries_every_run_tagged_and_resumes_from_its_cursor(
    edge: Platform, tmp_path: Path
) -> None:
    executors = [{"type": "command", "options": {"template": "chatty"}}] * 2
    accepted = await new_task(edge, make_remote(tmp_path), executors, "40")
    run_ids = {r["id"] for r in accepted["runs"]}
    received: list[Frame] = []
    last_id: str | None = None
    while sum(f.event in TERMINAL for f in received) < len(run_ids):
        ended_before = sum(f.event in TERMINAL for f in received)
        got = await read_task_stream(edge, accepted["task_id"], 2 - ended_before, last_id, 7)
        received += got
        last_id = got[-1].id if got else last_id

    per_run: dict[str, list[int]] = {run_id: [] for run_id in run_ids}
    for frame in received:
        per_run[frame.json["run_id"]].append(frame.json["seq"])
        assert frame.json["task_id"] == accepted["task_id"]
    for run_id, seqs in per_run.items():
        reference = await follow(edge, f"/v1/runs/{run_id}/stream")
        assert seqs == [int(f.id or 0) for f in reference]
    # The last cursor names both runs at their last seq.
    assert last_id is not None
    assert {part.split(":")[0] for part in last_id.split(",")} == {
        uuid.UUID(r).hex for r in run_ids
    }


async def test_a_quiet_stream_gets_pings_then_is_told_to_reconnect_at_its_lifetime(
    edge: Platform, tmp_path: Path
) -> None:
    accepted = await new_task(
        edge, make_remote(tmp_path), [{"type": "command", "options": {"template": "sleep"}}], "30"
    )
    run_id = accepted["runs"][0]["id"]
    lines: list[str] = []
    started = time.monotonic()
    async with (
        httpx.AsyncClient(base_url=edge.gateway.url, timeout=30) as client,
        client.stream(
            "GET", f"/v1/runs/{run_id}/stream", headers=edge.bearer("viewer")
        ) as response,
    ):
        assert response.status_code == 200
        lines = [line async for line in response.aiter_lines()]
    while lines and lines[-1] == "":
        lines.pop()
    lasted = time.monotonic() - started
    async with httpx.AsyncClient(
        base_url=edge.gateway.url, headers=edge.bearer("developer"), timeout=30
    ) as client:
        await client.post(f"/v1/runs/{run_id}/cancel", json={})

    assert lines[0].startswith("retry: ")
    assert lines.count(": ping") >= 3
    assert lines[-2:] == ["event: reconnect", "data: {}"]
    ids = [line.removeprefix("id: ") for line in lines if line.startswith("id: ")]
    assert lines[-3] == f"id: {ids[-2]}"
    assert 4 <= lasted < 15


async def test_a_caller_over_its_rate_gets_429_with_retry_after_and_others_do_not(
    edge: Platform,
) -> None:
    hammer, bystander = edge.bearer("viewer", "hammer"), edge.bearer("viewer", "bystander")
    async with httpx.AsyncClient(base_url=edge.gateway.url, timeout=30) as client:
        started = time.monotonic()
        answers = await asyncio.gather(
            *(client.get("/v1/tasks", headers=hammer) for _ in range(60))
        )
        elapsed = time.monotonic() - started
        fine = await client.get("/v1/tasks", headers=bystander)
        streams = await asyncio.gather(
            *(client.get(f"/v1/runs/{uuid.uuid4()}/stream", headers=hammer) for _ in range(40))
        )
    limited = [a for a in answers if a.status_code == 429]
    assert {a.status_code for a in answers} == {200, 429}
    # A token bucket lets through at most its burst plus what refilled meanwhile
    # (+1: two first requests may both create the bucket).
    passed = len([a for a in answers if a.status_code == 200])
    assert 1 <= passed <= 30 + 10 * elapsed + 1
    for answer in limited:
        assert int(answer.headers["retry-after"]) >= 1
        assert answer.headers["content-type"].startswith("application/problem+json")
    assert fine.status_code == 200
    # Streams draw on the same bucket: 40 at once cannot all get past it.
    assert {s.status_code for s in streams} == {404, 429}


async def test_metrics_count_open_streams_and_deliveries_for_admins_only(
    edge: Platform, tmp_path: Path
) -> None:
    accepted = await new_task(
        edge, make_remote(tmp_path), [{"type": "command", "options": {"template": "sleep"}}], "30"
    )
    run_id = accepted["runs"][0]["id"]
    async with httpx.AsyncClient(base_url=edge.gateway.url, timeout=30) as client:
        before = (await client.get("/v1/gateway/metrics", headers=edge.bearer("admin"))).json()
        async with client.stream(
            "GET", f"/v1/runs/{run_id}/stream", headers=edge.bearer("viewer")
        ) as response:
            async for frame in frames(response):
                if frame.event == "log":
                    break
            during = (await client.get("/v1/gateway/metrics", headers=edge.bearer("admin"))).json()
        viewer = await client.get("/v1/gateway/metrics", headers=edge.bearer("viewer"))
        await client.post(f"/v1/runs/{run_id}/cancel", headers=edge.bearer("developer"), json={})
    assert during["open_streams"] == before["open_streams"] + 1
    assert during["replays"] == before["replays"] + 1
    assert during["events_delivered"] + during["events_replayed"] > (
        before["events_delivered"] + before["events_replayed"]
    )
    assert {"dropped_slow_clients", "gaps_filled", "live_messages"} <= during.keys()
    assert viewer.status_code == 403


async def until(found: Any, seconds: float) -> bool:
    """Polls `found()` until it is true or `seconds` passed."""
    deadline = time.monotonic() + seconds
    while not found():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.2)
    return True


async def test_an_open_stream_has_left_the_middleware_chain_after_its_checks(
    edge: Platform, tmp_path: Path
) -> None:
    accepted = await new_task(
        edge, make_remote(tmp_path), [{"type": "command", "options": {"template": "sleep"}}], "30"
    )
    run_id = accepted["runs"][0]["id"]
    path = f"/v1/runs/{run_id}/stream"
    spans = edge.gateway.app_log.with_suffix(".spans.jsonl")
    viewer = edge.bearer("viewer")

    def logged() -> bool:
        lines = [line for line in edge.gateway.logs().splitlines() if line.startswith("{")]
        return any(
            entry.get("path") == path and entry.get("status") == 200
            for entry in map(json.loads, lines)
        )

    def span_ended() -> bool:
        return spans.exists() and any(
            run_id in line and "SpanKind.SERVER" in line for line in spans.read_text().splitlines()
        )

    async with httpx.AsyncClient(base_url=edge.gateway.url, timeout=30) as client:
        async with client.stream(
            "GET", path, headers=viewer | {"origin": ALLOWED_ORIGIN}
        ) as response:
            assert response.status_code == 200
            assert response.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
            # The set-up's log line and server span are done while the stream stays open
            # (well before its 4 s lifetime would end it).
            assert await until(logged, 2.5)
            assert await until(span_ended, 1.0)
            async for frame in frames(response):
                if frame.event == "log":
                    break
        foreign = await client.get(path, headers=viewer | {"origin": "https://evil.example"})
        refused = [
            await client.get(path, headers={"authorization": "Bearer not-a-token"}),
            await client.get(path),
            await client.get(f"{path}/", headers=viewer),
            await client.get(f"/v1/runs/{run_id}/%2e%2e/stream", headers=viewer),
            await client.get(f"/v1/runs/{uuid.uuid4()}/stream", headers=viewer),
        ]
        await client.post(f"/v1/runs/{run_id}/cancel", headers=edge.bearer("developer"), json={})
    # A foreign origin is not refused by CORS (a simple GET), but gets no grant to read it.
    assert "access-control-allow-origin" not in foreign.headers
    assert [r.status_code for r in refused] == [401, 401, 404, 404, 404]
    for answer in refused:
        assert answer.headers["content-type"].startswith("application/problem+json")


async def test_cors_preflight_answers_configured_origins_only(edge: Platform) -> None:
    preflight = {
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization",
    }
    async with httpx.AsyncClient(base_url=edge.gateway.url, timeout=30) as client:
        allowed = await client.options("/v1/tasks", headers=preflight | {"origin": ALLOWED_ORIGIN})
        refused = await client.options(
            "/v1/tasks", headers=preflight | {"origin": "https://evil.example"}
        )
        simple = await client.get(
            "/v1/tasks", headers=edge.bearer("viewer") | {"origin": ALLOWED_ORIGIN}
        )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "access-control-allow-origin" not in refused.headers
    assert refused.status_code == 400
    assert simple.headers["access-control-allow-origin"] == ALLOWED_ORIGIN


async def public_burst(url: str, headers: list[dict[str, str]]) -> list[httpx.Response]:
    """The public password flow (an empty body: auth answers 422), once per header set."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        return await asyncio.gather(
            *(client.post("/v1/auth/token", json={}, headers=h) for h in headers)
        )


def bucket_key(address: str) -> str:
    """The state-store key of a client address's rate-limit bucket."""
    return "ratelimit-" + hashlib.sha256(f"ip:{address}".encode()).hexdigest()[:32]


def buckets_read(replica: Any, since: int) -> list[str]:
    """Rate-limit buckets the replica's sidecar was asked for, after the first `since` calls."""
    calls = re.findall(
        r'method="GET /v1\.0/state/statestore/(ratelimit-[0-9a-f]+)"', replica.daprd_log.read_text()
    )
    return calls[since:]


async def test_a_forwarded_for_from_an_untrusted_peer_does_not_pick_the_bucket(
    edge: Platform,
) -> None:
    # The gateway trusts no proxy by default: 20 "clients" are one peer, one bucket.
    since = len(buckets_read(edge.gateway, 0))
    spoofed = [{"x-forwarded-for": f"203.0.113.{i}"} for i in range(20)]
    answers = await public_burst(edge.gateway.url, spoofed)
    assert {a.status_code for a in answers} <= {422, 429}
    assert set(buckets_read(edge.gateway, since)) == {bucket_key("127.0.0.1")}


FRONT_DOOR_ID = "3f2a6c1e-8d4b-4e7a-9c51-0b6d2e8f1a47"


@pytest.fixture(scope="module")
async def behind_front_door(edge: Platform) -> Any:
    """A gateway replica that trusts the loopback proxy and requires our Front Door's id."""
    replica = edge.start(
        "events-gateway",
        name="events-gateway-fd",
        env={
            "DURSOR_TRUSTED_PROXIES": '["127.0.0.1"]',
            "DURSOR_FRONT_DOOR_ID": FRONT_DOOR_ID,
        },
    )
    await edge.wait_ready(replica)
    return replica


async def test_behind_a_trusted_proxy_each_client_has_its_own_bucket(
    edge: Platform, behind_front_door: Any
) -> None:
    since = len(buckets_read(behind_front_door, 0))
    fd = {"x-azure-fdid": FRONT_DOOR_ID}
    clients = [f"198.51.100.{i}" for i in range(20)]
    # What Front Door and the ingress send: the client first, then the proxies it passed.
    many = [fd | {"x-forwarded-for": f"{client}, 127.0.0.1"} for client in clients]
    assert {a.status_code for a in await public_burst(behind_front_door.url, many)} == {422}
    assert sorted(buckets_read(behind_front_door, since)) == sorted(map(bucket_key, clients))


async def test_only_requests_through_the_front_door_are_served(
    edge: Platform, behind_front_door: Any, tmp_path: Path
) -> None:
    viewer = edge.bearer("viewer")
    async with httpx.AsyncClient(base_url=behind_front_door.url, timeout=30) as client:
        missing = await client.get("/v1/tasks", headers=viewer)
        wrong = await client.get("/v1/tasks", headers=viewer | {"x-azure-fdid": "another-id"})
        right = await client.get("/v1/tasks", headers=viewer | {"x-azure-fdid": FRONT_DOOR_ID})
        stream = await client.get(f"/v1/runs/{uuid.uuid4()}/stream", headers=viewer)
        probes = [await client.get(path) for path in ("/healthz", "/readyz")]
        sidecar_route = await client.post("/dapr/run-events", json={})
    for refused in (missing, wrong, stream):
        assert refused.status_code == 403
        assert refused.headers["content-type"].startswith("application/problem+json")
    assert right.status_code == 200
    assert [p.status_code for p in probes] == [200, 200]
    # The sidecar's routes answer to the app token (401 without it), not to the Front Door.
    assert sidecar_route.status_code == 401


async def test_the_sidecar_still_delivers_to_a_front_door_replica(
    edge: Platform, behind_front_door: Any, tmp_path: Path
) -> None:
    admin = edge.bearer("admin") | {"x-azure-fdid": FRONT_DOOR_ID}
    async with httpx.AsyncClient(base_url=behind_front_door.url, timeout=30) as client:
        before = (await client.get("/v1/gateway/metrics", headers=admin)).json()
        accepted = await new_task(edge, make_remote(tmp_path), *chatty(3))
        await follow(edge, f"/v1/runs/{accepted['runs'][0]['id']}/stream")
        for _ in range(100):
            after = (await client.get("/v1/gateway/metrics", headers=admin)).json()
            if after["live_messages"] > before["live_messages"]:
                break
            await asyncio.sleep(0.1)
    assert after["live_messages"] > before["live_messages"]


async def test_the_gateway_serves_the_committed_public_document_and_a_docs_page(
    edge: Platform,
) -> None:
    async with httpx.AsyncClient(base_url=edge.gateway.url, timeout=30) as client:
        document = await client.get("/openapi.json")
        page = await client.get("/docs")
    assert document.json() == json.loads((ROOT / "docs" / "openapi.json").read_text())
    assert page.status_code == 200
    assert "/openapi.json" in page.text


async def test_every_running_service_serves_with_httptools_and_all_but_the_runner_on_uvloop(
    edge: Platform,
) -> None:
    # uvicorn imports uvloop and httptools only for the loop and parser it runs: their
    # compiled modules in a live process's memory map are what it chose. The runner keeps
    # the standard loop on purpose (agent_runner/server.py: uvloop's spawns stall it).
    apps = {
        r.app_id: await asyncio.to_thread(Path(f"/proc/{r.app.pid}/maps").read_text)
        for r in edge.replicas
    }
    assert set(apps) == {"events-gateway", "run-api", "agent-runner", "auth"}
    for app_id, maps in apps.items():
        on_uvloop = re.search(r"/uvloop/loop\.cpython-[^/]*\.so", maps) is not None
        assert on_uvloop is (app_id != "agent-runner"), app_id
        assert re.search(r"/httptools/parser/parser\.cpython-[^/]*\.so", maps), app_id
