"""Attacks on the gateway's edge through the real gateway and sidecars, as a client would send them.

Every traversal and encoding trick against `/v1/runs/…`, `/v1/tasks/…`, `/v1/auth/…` and
`/v1/github/webhook`, and against every declared route's path parameters, for each role
and without a token, must get a 400/404 and make no call to the gateway's sidecar: the
gateway's daprd logs every API call it serves (`--enable-api-logging`), and after the
attacks only a control request's calls may appear there. Requests are written to the
socket byte for byte (tests.support.raw_http); httpx would normalise them.

Stream tickets are attacked too: replayed (also on two replicas at once), expired,
forged, or presented for another stream, they open nothing; tokens in URLs are refused.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from events_gateway.edge.public_api import route_table
from tests.conftest import running_platform
from tests.support.git_remote import make_remote
from tests.support.leak_scan import platform_secrets
from tests.support.platform import Platform, Replica
from tests.support.raw_http import RawResponse, send_raw
from tests.support.sse import Frame, collect, frames

pytestmark = pytest.mark.e2e
# Short-lived stream tickets, so the expiry test need not wait a minute.
ATTACK_ENV = {"DURSOR_STREAM_TICKET_TTL_SECONDS": "3", "DURSOR_LOG_BATCH_SECONDS": "0.02"}


@pytest.fixture(scope="module")
async def platform(
    backing: Any, databases: Any, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Platform]:
    """One replica of each service, stream tickets valid for 3 s."""
    workdir = tmp_path_factory.mktemp("attacks")
    async with running_platform(backing, databases, workdir, ATTACK_ENV) as started:
        yield started


ROLES = ("anonymous", "viewer", "developer", "admin")
PREFIXES = ("/v1/runs/", "/v1/tasks/", "/v1/auth/", "/v1/github/webhook/")
# What an attacker wants behind the gateway: its sidecar's own API, other apps' internal
# and sidecar-only routes (through the sidecar's invoke API, which adds the app token).
FORBIDDEN = (
    ("GET", "v1.0/secrets/secretstore/jwt-signing-keys"),
    ("GET", "v1.0/secrets/secretstore/admin-password"),
    ("GET", "v1.0/secrets/secretstore/bulk"),
    ("POST", "v1.0/publish/pubsub-broadcast/run-cancel-requested"),
    ("POST", "v1.0/publish/pubsub-broadcast/run-events"),
    ("POST", "v1.0/shutdown"),
    ("GET", "v1.0/metadata"),
    ("GET", "v1.0/state/statestore/anything"),
    ("POST", "v1.0/invoke/agent-runner/method/ci-poll"),
    ("POST", "v1.0/invoke/run-api/method/internal/github/events"),
    ("POST", "v1.0/invoke/run-api/method/dapr/dead-letters"),
    ("POST", "v1.0/invoke/auth/method/internal/github/installation-token"),
    ("GET", "v1.0/invoke/events-gateway/method/dapr/subscribe"),
    ("POST", "internal/github/events"),
    ("GET", "dapr/subscribe"),
    ("POST", "dapr/run-events"),
)
UP = 8  # enough `..` to climb from any public path to the sidecar's root


def _climb(step: str) -> Callable[[str, str], str]:
    return lambda prefix, target: prefix + step * UP + target


# Each: (name, how a prefix and a target become a raw path). All are refused by the app.
ENCODINGS: tuple[tuple[str, Callable[[str, str], str]], ...] = (
    ("dot-dot", _climb("../")),
    ("dot", lambda p, t: p + "./" + t),
    ("pct-2e", _climb("%2e%2e/")),
    ("pct-2E-2F", _climb("%2E%2E%2F")),
    ("dot-dot-2f", _climb("..%2f")),
    ("double-encoded", _climb("%252e%252e%252f")),
    ("pct-5c", _climb("..%5c")),
    ("backslash", _climb("..\\")),
    ("semicolon", _climb("..;/")),
    ("pct-00", lambda p, t: p + "x%00/" + "../" * UP + t),
    ("empty-segments", lambda p, t: p + "//" + t),
    ("overlong-utf8", _climb("%c0%ae%c0%ae/")),
    ("absolute-form", lambda p, t: "http://127.0.0.1:3500/" + t),
)
# Bytes the HTTP parser itself refuses (a plain 400 from uvicorn, before the app).
PARSER_REFUSED = (
    ("raw-nul", lambda p, t: p + "x\x00/" + "../" * UP + t),
    ("raw-space", lambda p, t: p + "x /" + "../" * UP + t),
)
API_CALL = re.compile(r'msg="HTTP API Called".* method="(?P<call>[A-Z]+ [^"]+)"')


@dataclass(frozen=True)
class Attack:
    """One request an attacker sends and what it aims at."""

    name: str
    method: str
    target: bytes


def attacks(
    prefix: str, encodings: tuple[tuple[str, Callable[[str, str], str]], ...]
) -> list[Attack]:
    """Every encoding of every forbidden target from one public prefix."""
    return [
        Attack(f"{name} {target}", method, build(prefix, target).encode())
        for name, build in encodings
        for method, target in FORBIDDEN
    ]


def headers_for(platform: Platform, role: str) -> dict[str, str]:
    """A bearer token of that role (none for anonymous), JSON content."""
    base = {"content-type": "application/json"}
    return base if role == "anonymous" else base | platform.bearer(role, f"attacker-{role}")


def api_calls(replica: Replica) -> list[str]:
    """Every call the replica's daprd served on its API so far (health checks left out)."""
    calls = [m.group("call") for m in API_CALL.finditer(replica.daprd_log.read_text())]
    return [call for call in calls if "/v1.0/healthz" not in call]


async def control_calls(platform: Platform, before: int) -> list[str]:
    """Send one legitimate request and wait until the sidecar logged it; the calls since."""
    viewer = headers_for(platform, "viewer")
    answer = await send_raw(platform.gateway.app_port, "GET", b"/v1/tasks", viewer)
    assert answer.status == 200, answer.body
    for _ in range(100):
        calls = api_calls(platform.gateway)[before:]
        if any(call.startswith("GET /v1.0/invoke/run-api/method/v1/tasks") for call in calls):
            return calls
        await asyncio.sleep(0.1)
    raise AssertionError(f"the control request never reached the sidecar's log: {calls}")


def assert_only_the_control(calls: list[str]) -> None:
    """The control's invoke and its rate-limit state calls, nothing an attack caused."""
    unexpected = [
        call
        for call in calls
        if not call.startswith("GET /v1.0/invoke/run-api/method/v1/tasks")
        and not re.fullmatch(r"(GET|POST) /v1\.0/state/statestore(/ratelimit-[0-9a-f]+)?", call)
    ]
    assert unexpected == []


def assert_refused(attack: Attack, answer: RawResponse, secrets: list[str]) -> None:
    """400/404 in problem+json, and nothing secret in it."""
    assert answer.status in (400, 404), (attack.name, answer.status, answer.body[:300])
    assert answer.is_problem, (attack.name, answer.headers)
    assert answer.json()["status"] == answer.status
    assert not [s for s in secrets if s.encode() in answer.body], attack.name


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("prefix", PREFIXES)
async def test_traversal_and_encodings_get_4xx_and_reach_no_sidecar(
    platform: Platform, prefix: str, role: str
) -> None:
    secrets = list(platform_secrets(platform.secrets).values())
    headers = headers_for(platform, role)
    before = len(api_calls(platform.gateway))
    port = platform.gateway.app_port
    for attack in attacks(prefix, ENCODINGS):
        answer = await send_raw(port, attack.method, attack.target, headers, b"{}")
        assert_refused(attack, answer, secrets)
    for attack in attacks(prefix, PARSER_REFUSED):
        answer = await send_raw(port, attack.method, attack.target, headers, b"{}")
        assert answer.status == 400, (attack.name, answer.status)
    assert_only_the_control(await control_calls(platform, before))


def _in_parameters(template: str, payload: str) -> str:
    """The template with its first parameter (or its last segment) replaced by `payload`."""
    segments = template.split("/")
    index = next((i for i, s in enumerate(segments) if s.startswith("{")), len(segments) - 1)
    return "/".join([*segments[:index], payload, *segments[index + 1 :]])


def declared_templates() -> list[tuple[str, str]]:
    """(method, template) of every forwarded route and every route the gateway serves."""
    own = [
        ("GET", "/v1/runs/{run_id}/stream"),
        ("GET", "/v1/tasks/{task_id}/stream"),
        ("POST", "/v1/streams/tickets"),
        ("POST", "/v1/github/webhook"),
        ("GET", "/v1/gateway/metrics"),
    ]
    return sorted(route_table().templates() | set(own))


PAYLOADS = (
    "../" * UP + "v1.0/secrets/secretstore/jwt-signing-keys",
    "%2e%2e/" * UP + "v1.0/publish/pubsub-broadcast/run-cancel-requested",
    "..%2f" * UP + "v1.0/shutdown",
    f"{uuid.uuid4()}%2f..%2f..%2f..%2fv1.0%2fmetadata",
    f"{uuid.uuid4()};..",
)


@pytest.mark.parametrize("role", ROLES)
async def test_no_declared_route_reaches_a_forbidden_target(platform: Platform, role: str) -> None:
    secrets = list(platform_secrets(platform.secrets).values())
    headers = headers_for(platform, role)
    before = len(api_calls(platform.gateway))
    for method, template in declared_templates():
        for payload in PAYLOADS:
            target = _in_parameters(template, payload).encode()
            answer = await send_raw(platform.gateway.app_port, method, target, headers, b"{}")
            assert_refused(Attack(f"{method} {template}", method, target), answer, secrets)
    assert_only_the_control(await control_calls(platform, before))


async def test_the_reported_exploit_is_closed(platform: Platform) -> None:
    """The issue's request: a Viewer reading the signing keys through `..` segments."""
    target = b"/v1/runs/../../../../../../v1.0/secrets/secretstore/jwt-signing-keys"
    before = len(api_calls(platform.gateway))
    answer = await send_raw(
        platform.gateway.app_port, "GET", target, headers_for(platform, "viewer")
    )
    assert answer.status == 404
    assert answer.is_problem
    assert b"BEGIN" not in answer.body
    assert_only_the_control(await control_calls(platform, before))


async def test_a_request_target_is_checked_raw_not_after_decoding(platform: Platform) -> None:
    """`%2f` inside an id never becomes a separator: the id is not a UUID, nothing is sent."""
    run = uuid.uuid4()
    encoded = f"/v1/runs/{run}%2fcancel".encode()
    answer = await send_raw(
        platform.gateway.app_port, "POST", encoded, headers_for(platform, "developer"), b"{}"
    )
    assert (answer.status, answer.json()["type"]) == (
        404,
        "https://dursor.cloud/problems/invalid-path",
    )
    clean = await send_raw(
        platform.gateway.app_port,
        "GET",
        f"/v1/runs/{run}".encode(),
        headers_for(platform, "viewer"),
    )
    assert clean.status == 404
    assert clean.json()["detail"] == f"run {run} does not exist"


async def run_to_its_end(platform: Platform, task_id: str, lines: int) -> dict[str, Any]:
    """A `chatty` run of the task, followed to its end: its id and every frame."""
    async with httpx.AsyncClient(
        base_url=platform.gateway.url, headers=platform.bearer("developer"), timeout=60
    ) as client:
        accepted = await client.post(
            f"/v1/tasks/{task_id}/runs",
            json={
                "instruction": str(lines),
                "executors": [{"type": "command", "options": {"template": "chatty"}}],
            },
        )
        assert accepted.status_code == 202, accepted.text
        run_id = accepted.json()["runs"][0]["id"]
        status, seen = await collect(client, f"/v1/runs/{run_id}/stream", {})
    assert status == 200
    assert seen[-1].event == "completed"
    return {"id": run_id, "task_id": task_id, "frames": seen}


@pytest.fixture(scope="module")
async def finished_run(
    platform: Platform, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """A run that has ended, with every frame of its stream."""
    remote = make_remote(tmp_path_factory.mktemp("remote"))
    task_id = await platform.new_task(f"file://{remote}", "tickets")
    return await run_to_its_end(platform, task_id, 5)


async def ticket_for(platform: Platform, path: str, role: str = "viewer") -> httpx.Response:
    """`POST /v1/streams/tickets` for `path` as `role`."""
    async with httpx.AsyncClient(base_url=platform.gateway.url, timeout=30) as client:
        return await client.post(
            "/v1/streams/tickets", json={"path": path}, headers=platform.bearer(role)
        )


async def open_with_ticket(
    platform: Platform, path: str, ticket: str, last_event_id: str | None = None
) -> tuple[int, list[Frame]]:
    """Open a stream as EventSource does, with no header but the ticket in the URL."""
    params = {"ticket": ticket} | ({"last_event_id": last_event_id} if last_event_id else {})
    async with (
        httpx.AsyncClient(base_url=platform.gateway.url, timeout=30) as client,
        client.stream("GET", path, params=params) as response,
    ):
        if response.status_code != 200:
            await response.aread()
            return response.status_code, []
        return 200, [frame async for frame in frames(response)]


async def test_a_stream_ticket_opens_its_stream_once(
    platform: Platform, finished_run: dict[str, Any]
) -> None:
    path = f"/v1/runs/{finished_run['id']}/stream"
    issued = await ticket_for(platform, path)
    assert issued.status_code == 201, issued.text
    ticket = issued.json()["ticket"]
    assert issued.json()["expires_in"] == 3
    status, got = await open_with_ticket(platform, path, ticket, last_event_id="2")
    assert status == 200
    assert [f.id for f in got] == [f.id for f in finished_run["frames"][2:]]
    again, _ = await open_with_ticket(platform, path, ticket, last_event_id="2")
    assert again == 401


async def test_a_stream_ticket_expires(platform: Platform, finished_run: dict[str, Any]) -> None:
    path = f"/v1/runs/{finished_run['id']}/stream"
    ticket = (await ticket_for(platform, path)).json()["ticket"]
    await asyncio.sleep(3.5)
    status, _ = await open_with_ticket(platform, path, ticket)
    assert status == 401


async def test_a_ticket_for_one_stream_opens_no_other(
    platform: Platform, finished_run: dict[str, Any], tmp_path: Path
) -> None:
    other_task = await platform.new_task(f"file://{make_remote(tmp_path)}", "other")
    other = {"runs": [await run_to_its_end(platform, other_task, 1)]}
    path = f"/v1/runs/{finished_run['id']}/stream"
    ticket = (await ticket_for(platform, path)).json()["ticket"]
    for elsewhere in (
        f"/v1/runs/{other['runs'][0]['id']}/stream",
        f"/v1/tasks/{finished_run['task_id']}/stream",
    ):
        status, _ = await open_with_ticket(platform, elsewhere, ticket)
        assert status == 401, elsewhere
    for forged in (ticket[:-1] + ("A" if ticket[-1] != "A" else "B"), "dst_" + "x" * 43, "x"):
        status, _ = await open_with_ticket(platform, path, forged)
        assert status == 401, forged


async def test_a_task_stream_opens_with_its_own_ticket(
    platform: Platform, finished_run: dict[str, Any]
) -> None:
    path = f"/v1/tasks/{finished_run['task_id']}/stream"
    issued = await ticket_for(platform, path, role="admin")
    assert issued.status_code == 201, issued.text
    params = {"ticket": issued.json()["ticket"]}
    async with (
        httpx.AsyncClient(base_url=platform.gateway.url, timeout=30) as client,
        client.stream("GET", path, params=params) as response,
    ):
        assert response.status_code == 200
        async for frame in frames(response):
            assert frame.json["run_id"] == finished_run["id"]
            break


async def test_tickets_need_a_reader_and_an_existing_stream(platform: Platform) -> None:
    unknown = f"/v1/runs/{uuid.uuid4()}/stream"
    async with httpx.AsyncClient(base_url=platform.gateway.url, timeout=30) as client:
        anonymous = await client.post("/v1/streams/tickets", json={"path": unknown})
        roleless = await client.post(
            "/v1/streams/tickets",
            json={"path": unknown},
            headers=platform.bearer("viewer", roles=[]),
        )
    assert anonymous.status_code == 401
    assert roleless.status_code == 401
    assert (await ticket_for(platform, unknown)).status_code == 404
    assert (await ticket_for(platform, f"/v1/tasks/{uuid.uuid4()}/stream")).status_code == 404
    for bad in (f"/v1/runs/{uuid.uuid4()}", "/v1/runs/../stream", f"/v1/runs/{uuid.uuid4()}/patch"):
        refused = await ticket_for(platform, bad)
        assert refused.status_code == 422, bad
        assert refused.headers["content-type"].startswith("application/problem+json")


async def test_a_token_in_the_url_no_longer_opens_a_stream(
    platform: Platform, finished_run: dict[str, Any]
) -> None:
    async with httpx.AsyncClient(base_url=platform.gateway.url, timeout=30) as client:
        response = await client.get(
            f"/v1/runs/{finished_run['id']}/stream",
            params={"access_token": platform.mint_token("viewer")},
        )
    assert response.status_code == 401


async def test_two_replicas_accept_one_ticket_once(
    platform: Platform, finished_run: dict[str, Any]
) -> None:
    second = platform.start("events-gateway", name="events-gateway-tickets")
    await platform.wait_ready(second)
    path = f"/v1/runs/{finished_run['id']}/stream"
    last = finished_run["frames"][-1].id
    for _ in range(5):
        ticket = (await ticket_for(platform, path)).json()["ticket"]
        async with httpx.AsyncClient(timeout=30) as client:
            answers = await asyncio.gather(
                *(
                    client.get(f"{url}{path}", params={"ticket": ticket, "last_event_id": last})
                    for url in [platform.gateway.url, second.url] * 4
                )
            )
        # The run has ended and the client has seen it all: the one winner gets a 204.
        assert sorted(a.status_code for a in answers) == [204] + [401] * 7


async def test_spans_keep_the_ticket_parameter_but_not_its_value(
    platform: Platform, finished_run: dict[str, Any]
) -> None:
    path = f"/v1/runs/{finished_run['id']}/stream"
    ticket = (await ticket_for(platform, path)).json()["ticket"]
    status, _ = await open_with_ticket(platform, path, ticket, last_event_id="1")
    assert status == 200
    spans_file = platform.gateway.app_log.with_name(f"{platform.gateway.name}.spans.jsonl")
    for _ in range(100):
        urls = [
            json.loads(line)["attributes"].get("http.url", "")
            for line in spans_file.read_text().splitlines()
        ]
        if any(path in url and "ticket=" in url for url in urls):
            break
        await asyncio.sleep(0.1)
    redacted = [url for url in urls if path in url and "ticket=" in url]
    assert redacted, "the stream request's span was never exported"
    assert all("ticket=[redacted]" in url for url in redacted)
    assert ticket not in spans_file.read_text()
    assert ticket not in platform.gateway.logs()
