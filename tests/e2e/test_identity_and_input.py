"""What callers may do, and send, through the whole platform.

A role taken away or a user disabled stops working within the binding cache's window
for every token the user holds, in every service (the gateway, each app called
directly, open streams); API tokens cannot mint more; Admins see and revoke anyone's
tokens. Text PostgreSQL cannot store is refused with a 422 in every request body.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from dursor_kit.secret_names import GITHUB_WEBHOOK_SECRET
from dursor_store.schema import metadata
from tests.conftest import running_platform
from tests.support.backing import Backing
from tests.support.databases import DatabaseFactory
from tests.support.openapi_bodies import Schema, poisoned, variants
from tests.support.platform import Platform

pytestmark = pytest.mark.e2e

# Bindings are re-read every 2 s here (30 s at most in production); open streams
# re-check their caller at every 1-s ping.
BINDING_SECONDS = 2.0
FAST_IDENTITY = {
    "DURSOR_AUTH_BINDING_CACHE_SECONDS": str(BINDING_SECONDS),
    "DURSOR_SSE_PING_SECONDS": "1",
}
# The window plus room for a loaded 2-core machine.
DEADLINE = BINDING_SECONDS + 20.0
PASSWORD = "a long enough password"


@pytest.fixture(scope="module")
async def platform(
    backing: Backing, databases: DatabaseFactory, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Platform]:
    """One replica of each service, with a short binding cache."""
    workdir = tmp_path_factory.mktemp("identity")
    async with running_platform(backing, databases, workdir, FAST_IDENTITY) as started:
        yield started


@dataclass
class User:
    """A local user and the two kinds of token they hold."""

    id: str
    password_token: str
    api_token: str
    api_token_id: str


def bearer(token: str) -> dict[str, str]:
    """The Authorization header of a token."""
    return {"authorization": f"Bearer {token}"}


async def new_user(client: httpx.AsyncClient, admin: dict[str, str], role: str) -> User:
    """A user made by the admin, signed in, with an API token of their role."""
    name = f"u{uuid.uuid4().hex[:10]}"
    made = await client.post(
        "/v1/users", headers=admin, json={"username": name, "password": PASSWORD, "role": role}
    )
    assert made.status_code == 201, made.text
    login = await client.post("/v1/auth/token", json={"username": name, "password": PASSWORD})
    assert login.status_code == 200, login.text
    password_token = login.json()["access_token"]
    api = await client.post("/v1/tokens", headers=bearer(password_token), json={"name": "ci"})
    assert api.status_code == 201, api.text
    return User(made.json()["id"], password_token, api.json()["token"], api.json()["id"])


async def until(check: Callable[[], Awaitable[bool]], timeout: float) -> float:
    """Poll `check` until it holds; returns how long that took (fails after `timeout`)."""
    started = time.monotonic()
    while not await check():
        assert time.monotonic() - started < timeout, "not within the window"
        await asyncio.sleep(0.25)
    return time.monotonic() - started


def new_repo_body() -> dict[str, str]:
    """A repository under the platform's local root that nobody registered yet."""
    return {"url": Path(tempfile.gettempdir(), f"repo-{uuid.uuid4().hex}").as_uri()}


async def test_a_demoted_developer_can_no_longer_write_with_any_token_in_any_service(
    platform: Platform,
) -> None:
    run_api = platform.replica("run-api").url
    async with httpx.AsyncClient(base_url=platform.gateway.url, timeout=30) as client:
        admin = bearer(await platform.token())
        user = await new_user(client, admin, "developer")
        tokens = [bearer(user.password_token), bearer(user.api_token)]
        # Through the gateway, and to run-api's own port: each service decides itself.
        writes = [(base, token) for base in ("", run_api) for token in tokens]

        async def write_statuses() -> list[int]:
            return [
                (await client.post(f"{base}/v1/repos", headers=t, json=new_repo_body())).status_code
                for base, t in writes
            ]

        before = await write_statuses()
        demoted = await client.put(
            f"/v1/users/{user.id}/role", headers=admin, json={"role": "viewer"}
        )

        async def refused() -> bool:
            return await write_statuses() == [403] * len(writes)

        took = await until(refused, DEADLINE)
        reads = [(await client.get("/v1/repos", headers=t)).status_code for t in tokens]
        me = [(await client.get("/v1/me", headers=t)).json()["role"] for t in tokens]
    assert before == [201] * len(writes)
    assert demoted.json()["role"] == "viewer"
    assert took <= DEADLINE
    assert reads == [200, 200]
    assert me == ["viewer", "viewer"]


async def test_a_disabled_user_is_refused_everywhere_until_enabled_again(
    platform: Platform,
) -> None:
    task_id = await platform.new_task(Path(tempfile.gettempdir(), "disabled").as_uri(), "watch")
    direct = {app: platform.replica(app).url for app in ("run-api", "auth")}
    async with httpx.AsyncClient(base_url=platform.gateway.url, timeout=30) as client:
        admin = bearer(await platform.token())
        user = await new_user(client, admin, "developer")
        tokens = [bearer(user.password_token), bearer(user.api_token)]
        reads = [
            f"{base}{path}"
            for base, path in (
                ("", "/v1/me"),
                ("", "/v1/repos"),
                (direct["auth"], "/v1/me"),
                (direct["run-api"], "/v1/repos"),
                ("", f"/v1/tasks/{task_id}/stream"),
            )
        ]

        async def statuses() -> set[int]:
            found = set()
            for url in reads:
                for token in tokens:
                    async with client.stream("GET", url, headers=token) as response:
                        found.add(response.status_code)
            return found

        assert await statuses() == {200}
        stream_path = f"/v1/tasks/{task_id}/stream"
        ticket = await client.post(
            "/v1/streams/tickets", headers=tokens[1], json={"path": stream_path}
        )
        async with client.stream(
            "GET", f"/v1/tasks/{task_id}/stream", headers=tokens[0]
        ) as watching:
            disabled = await client.put(
                f"/v1/users/{user.id}/disabled", headers=admin, json={"disabled": True}
            )
            # The open stream is cut off too, not only new requests.
            await asyncio.wait_for(watching.aread(), DEADLINE)
        await until(lambda: _equals(statuses(), {401}), DEADLINE)
        # A ticket issued before the disable opens nothing after it.
        redeemed = await client.get(stream_path, params={"ticket": ticket.json()["ticket"]})
        login = await client.post(
            "/v1/auth/token", json={"username": disabled.json()["username"], "password": PASSWORD}
        )
        enabled = await client.put(
            f"/v1/users/{user.id}/disabled", headers=admin, json={"disabled": False}
        )
        await until(lambda: _equals(statuses(), {200}), DEADLINE)
    assert disabled.json()["disabled"] is True
    assert ticket.status_code == 201
    assert redeemed.status_code == 401
    assert login.status_code == 401
    assert enabled.json()["disabled"] is False


async def _equals(statuses: Awaitable[set[int]], expected: set[int]) -> bool:
    return await statuses == expected


async def test_an_admin_cannot_disable_themselves(platform: Platform) -> None:
    async with httpx.AsyncClient(base_url=platform.gateway.url, timeout=30) as client:
        admin = bearer(await platform.token())
        users = (await client.get("/v1/users", headers=admin, params={"limit": 200})).json()
        me = next(u for u in users["items"] if u["username"] == "admin")
        refused = await client.put(
            f"/v1/users/{me['id']}/disabled", headers=admin, json={"disabled": True}
        )
        still = await client.get("/v1/me", headers=admin)
    assert refused.status_code == 409
    assert still.status_code == 200


async def test_an_api_token_cannot_mint_api_tokens(platform: Platform) -> None:
    async with httpx.AsyncClient(base_url=platform.gateway.url, timeout=30) as client:
        admin = bearer(await platform.token())
        user = await new_user(client, admin, "developer")
        minted = await client.post(
            "/v1/tokens", headers=bearer(user.api_token), json={"name": "child"}
        )
        listed = await client.get("/v1/tokens", headers=bearer(user.password_token))
    assert minted.status_code == 403
    assert minted.json()["type"].endswith("api-token-cannot-mint")
    assert [t["name"] for t in listed.json()] == ["ci"]


async def test_an_admin_lists_and_revokes_another_users_tokens(platform: Platform) -> None:
    async with httpx.AsyncClient(base_url=platform.gateway.url, timeout=30) as client:
        admin = bearer(await platform.token())
        user = await new_user(client, admin, "developer")
        second = await client.post(
            "/v1/tokens", headers=bearer(user.password_token), json={"name": "deploy"}
        )
        listed = await client.get(f"/v1/users/{user.id}/tokens", headers=admin)
        not_theirs = await client.get(
            f"/v1/users/{user.id}/tokens", headers=bearer(user.password_token)
        )
        revoked = await client.delete(f"/v1/tokens/{user.api_token_id}", headers=admin)
        after = [
            (await client.get("/v1/repos", headers=bearer(t))).status_code
            for t in (user.api_token, second.json()["token"])
        ]
        relisted = (await client.get(f"/v1/users/{user.id}/tokens", headers=admin)).json()
    assert sorted(t["name"] for t in listed.json()) == ["ci", "deploy"]
    assert "token" not in listed.json()[0]
    assert not_theirs.status_code == 403
    assert revoked.status_code == 204
    assert after == [401, 200]
    assert {t["name"]: t["revoked_at"] is not None for t in relisted} == {
        "ci": True,
        "deploy": False,
    }


# --- text PostgreSQL cannot store ------------------------------------------------------

UNSTORABLE = {"NUL": "bad\u0000text", "lone surrogate": "bad\ud800text"}


@dataclass(frozen=True)
class BodyCase:
    """One request with one poisoned string field."""

    method: str
    path: str
    field: str
    body: Any


async def documented_bodies(platform: Platform) -> list[tuple[str, str, Schema, Schema]]:
    """(method, path, JSON body schema, spec) of every public operation with a JSON body.

    From run-api's and auth's own documents and the gateway's public one (which adds the
    gateway's own operations, e.g. stream tickets).
    """
    found: dict[tuple[str, str], tuple[str, str, Schema, Schema]] = {}
    async with httpx.AsyncClient(timeout=10) as client:
        for app_id in ("run-api", "auth", "events-gateway"):
            spec = (await client.get(f"{platform.replica(app_id).url}/openapi.json")).json()
            for path, operations in spec["paths"].items():
                for method, operation in operations.items():
                    content = operation.get("requestBody", {}).get("content", {})
                    if path.startswith("/v1/") and "application/json" in content:
                        body_schema = content["application/json"]["schema"]
                        found.setdefault((method, path), (method.upper(), path, body_schema, spec))
    return list(found.values())


def path_value(placeholder: re.Match[str]) -> str:
    """A valid value of a path parameter: ids are UUIDs, a secret's name a variable name."""
    return "API_TOKEN" if placeholder.group(1) == "name" else str(uuid.uuid4())


def cases(bodies: list[tuple[str, str, Schema, Schema]], text: str) -> list[BodyCase]:
    """Every string field of every documented request body, poisoned with `text`."""
    return [
        BodyCase(method, re.sub(r"\{([^}]+)\}", path_value, path), field, body)
        for method, path, schema, spec in bodies
        for field, body in poisoned(schema, spec, text)
    ]


async def row_counts(platform: Platform) -> dict[str, int]:
    """How many rows every table holds."""
    engine = create_async_engine(platform.database_url)
    try:
        async with engine.connect() as conn:
            return {
                t.name: int(await conn.scalar(select(func.count()).select_from(t)) or 0)
                for t in metadata.sorted_tables
            }
    finally:
        await engine.dispose()


@pytest.mark.parametrize("kind", sorted(UNSTORABLE))
async def test_unstorable_text_in_any_field_of_any_request_body_is_a_422(
    platform: Platform, kind: str
) -> None:
    every = cases(await documented_bodies(platform), UNSTORABLE[kind])
    before = await row_counts(platform)
    answers = {}
    async with httpx.AsyncClient(base_url=platform.gateway.url, timeout=30) as client:
        for case in every:
            response = await client.request(
                case.method,
                case.path,
                content=json.dumps(case.body).encode(),  # \\u escapes: valid JSON text
                headers=platform.bearer("admin") | {"content-type": "application/json"},
            )
            answers[f"{case.method} {case.path.split('/')[2]} {case.field}"] = (response, case)
    assert len(every) > 40  # run-api's and auth's bodies, with every executor variant
    assert {k: r.status_code for k, (r, _) in answers.items()} == dict.fromkeys(answers, 422)
    for response, case in answers.values():
        reasons = [p["reason"] for p in response.json()["invalid-params"]]
        assert reasons == [f"{case.field} holds a character text cannot store " + SUFFIX]
    assert await row_counts(platform) == before


SUFFIX = "(NUL or an unpaired surrogate)"


async def test_unstorable_text_in_any_string_query_parameter_is_a_4xx(platform: Platform) -> None:
    calls = []
    async with httpx.AsyncClient(timeout=10) as client:
        for app_id in ("run-api", "auth", "events-gateway"):
            spec = (await client.get(f"{platform.replica(app_id).url}/openapi.json")).json()
            for path, operations in spec["paths"].items():
                for method, operation in operations.items():
                    for param in operation.get("parameters", []):
                        kinds = {v.get("type") for v in variants(param["schema"], spec)}
                        if param["in"] == "query" and "string" in kinds:
                            concrete = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)
                            calls.append((method.upper(), concrete, param["name"]))
    before = await row_counts(platform)
    async with httpx.AsyncClient(base_url=platform.gateway.url, timeout=30) as client:
        answers = {}
        for method, path, name in calls:
            async with client.stream(
                method, path, params={name: UNSTORABLE["NUL"]}, headers=platform.bearer("admin")
            ) as response:
                answers[f"{method} {path} ?{name}"] = response.status_code
    assert len(calls) >= 8  # the cursors of every list, the streams' parameters
    assert {k: 400 <= s < 500 for k, s in answers.items()} == dict.fromkeys(answers, True)
    assert await row_counts(platform) == before


async def test_unstorable_text_in_a_signed_webhook_payload_is_a_422(platform: Platform) -> None:
    body = json.dumps({"action": "created", "zen": UNSTORABLE["NUL"]}).encode()
    secret = platform.secrets[GITHUB_WEBHOOK_SECRET].encode()
    headers = {
        "x-github-event": "issue_comment",
        "x-github-delivery": str(uuid.uuid4()),
        "x-hub-signature-256": "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest(),
        "content-type": "application/json",
    }
    before = await row_counts(platform)
    async with httpx.AsyncClient(base_url=platform.gateway.url, timeout=30) as client:
        response = await client.post("/v1/github/webhook", content=body, headers=headers)
    assert response.status_code == 422
    assert response.json()["invalid-params"][0]["reason"].startswith("payload.zen holds")
    assert await row_counts(platform) == before


async def _enabled_admins(client: httpx.AsyncClient, headers: dict[str, str]) -> set[str]:
    listed = await client.get("/v1/users", headers=headers, params={"limit": 200})
    assert listed.status_code == 200, listed.text
    return {u["id"] for u in listed.json()["items"] if u["role"] == "admin" and not u["disabled"]}


async def test_the_last_enabled_admin_cannot_be_demoted_disabled_or_deleted(
    platform: Platform,
) -> None:
    async with httpx.AsyncClient(base_url=platform.gateway.url, timeout=30) as client:
        admin = bearer(await platform.token())
        initial = await _enabled_admins(client, admin)
        assert len(initial) == 1, initial
        first = initial.pop()
        other = await new_user(client, admin, "admin")
        second = bearer(other.password_token)
        # Two Admins demote each other at the same moment: exactly one of them wins. The
        # other is refused by the last-Admin rule (409) or, when its role was re-read after
        # the winner's commit, as no longer an Admin (403).
        crossed = await asyncio.gather(
            client.put(f"/v1/users/{other.id}/role", headers=admin, json={"role": "developer"}),
            client.put(f"/v1/users/{first}/role", headers=second, json={"role": "developer"}),
        )
        codes = [r.status_code for r in crossed]
        assert codes.count(200) == 1, codes
        assert set(codes) - {200} <= {403, 409}, codes
        (survivor_id, survivor), loser_id = (
            ((first, admin), other.id)
            if crossed[0].status_code == 200
            else ((other.id, second), first)
        )
        assert await _enabled_admins(client, survivor) == {survivor_id}

        demoted = await client.put(
            f"/v1/users/{survivor_id}/role", headers=survivor, json={"role": "viewer"}
        )
        disabled = await client.put(
            f"/v1/users/{survivor_id}/disabled", headers=survivor, json={"disabled": True}
        )
        deleted = await client.delete(f"/v1/users/{survivor_id}", headers=survivor)
        me = await client.get("/v1/me", headers=survivor)
        admins_after = await _enabled_admins(client, survivor)
        # Leave the module's platform as it was: the first admin is Admin again.
        restored = await client.put(
            f"/v1/users/{first}/role", headers=survivor, json={"role": "admin"}
        )
        assert restored.status_code == 200, restored.text

        async def admin_works_again() -> bool:
            return (
                await client.get("/v1/users", headers=admin, params={"limit": 1})
            ).status_code == 200

        await until(admin_works_again, DEADLINE)

    assert demoted.status_code == 409, demoted.text
    assert "last enabled Admin" in demoted.json()["detail"]
    assert disabled.status_code == 409, disabled.text
    # Users are never deleted (disable them): the gateway declares no such operation.
    assert deleted.status_code == 404, deleted.text
    assert deleted.json()["detail"] == "no operation has this path"
    assert me.json()["role"] == "admin"
    assert admins_after == {survivor_id}
    assert loser_id != survivor_id
