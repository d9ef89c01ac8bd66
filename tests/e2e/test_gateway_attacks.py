"""Attacks on the gateway's edge through the real gateway and sidecars, as a client would send them.

Every traversal and encoding trick against `/v1/runs/…`, `/v1/tasks/…`, `/v1/auth/…` and
`/v1/github/webhook`, and against every declared route's path parameters, for each role
and without a token, must get a 400/404 and make no call to the gateway's sidecar: the
gateway's daprd logs every API call it serves (`--enable-api-logging`), and after the
attacks only a control request's calls may appear there. Requests are written to the
socket byte for byte (tests.support.raw_http); httpx would normalise them.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from events_gateway.public_api import route_table
from tests.support.leak_scan import platform_secrets
from tests.support.platform import Platform, Replica
from tests.support.raw_http import RawResponse, send_raw

pytestmark = pytest.mark.e2e

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
