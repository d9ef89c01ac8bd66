"""The whole role matrix through the gateway: every route and stream, every role.

The routes come from the services' own OpenAPI documents, so a new route without an
entry in MATRIX fails this test. Anonymous callers get 401, roles below the route's
minimum get 403, and roles at or above it get the route's success status.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from dursor_kit.secret_names import ADMIN_PASSWORD, GITHUB_WEBHOOK_SECRET
from tests.support.git_remote import make_remote
from tests.support.platform import Platform
from tests.support.sse import collect

pytestmark = pytest.mark.e2e

ROLES = ("anonymous", "viewer", "developer", "admin")
RANK = {role: index for index, role in enumerate(ROLES)}


@dataclass
class World:
    """Resources the calls refer to, created once by an admin."""

    platform: Platform
    remote: Path
    task_id: str
    run_id: str
    last_seq: int
    admin: dict[str, str]


@dataclass(frozen=True)
class Call:
    """One concrete request."""

    method: str
    path: str
    body: Any = None
    headers: dict[str, str] | None = None
    content: bytes | None = None


Maker = Callable[[World, httpx.AsyncClient, str], Awaitable[Call]]


async def get(path: str) -> Maker:
    """A GET of a fixed path (formatted with the world's ids)."""

    async def make(world: World, _: httpx.AsyncClient, __: str) -> Call:
        return Call("GET", path.format(**vars(world)))

    return make


def post(path: str, body: Any = None) -> Maker:
    """A POST with a fixed body (formatted with the world's ids)."""

    async def make(world: World, _: httpx.AsyncClient, __: str) -> Call:
        return Call("POST", path.format(**vars(world)), body)

    return make


async def new_repo(world: World, _: httpx.AsyncClient, __: str) -> Call:
    """A repository URL nobody registered yet."""
    return Call("POST", "/v1/repos", {"url": f"file://{world.remote}-{uuid.uuid4().hex}"})


async def new_user(world: World, _: httpx.AsyncClient, __: str) -> Call:
    """A user name nobody has yet."""
    return Call(
        "POST",
        "/v1/users",
        {
            "username": f"u{uuid.uuid4().hex[:8]}",
            "password": "a long enough password",
            "role": "viewer",
        },
    )


async def fresh_run(world: World, client: httpx.AsyncClient) -> str:
    """A finished run of its own (follow-ups need a run that is not busy)."""
    runs = await client.post(
        f"/v1/tasks/{world.task_id}/runs",
        headers=world.admin,
        json={
            "instruction": "matrix",
            "executors": [{"type": "command", "options": {"template": "append-note"}}],
        },
    )
    run_id: str = runs.json()["runs"][0]["id"]
    await collect(client, f"/v1/runs/{run_id}/stream", world.admin)
    return run_id


async def follow_up(world: World, client: httpx.AsyncClient, _: str) -> Call:
    """A follow-up on a finished run of its own."""
    return Call("POST", f"/v1/runs/{await fresh_run(world, client)}/messages", {"content": "more"})


async def new_profile_path(world: World, client: httpx.AsyncClient) -> str:
    """A model profile of its own."""
    created = await client.post(
        "/v1/model-profiles",
        headers=world.admin,
        json={"name": uuid.uuid4().hex[:8], "provider": "openai", "model": "m", "api_key": "k-1"},
    )
    return f"/v1/model-profiles/{created.json()['id']}"


async def delete_profile(world: World, client: httpx.AsyncClient, _: str) -> Call:
    """Delete a model profile created for this call."""
    return Call("DELETE", await new_profile_path(world, client))


async def read_profile(world: World, client: httpx.AsyncClient, _: str) -> Call:
    """Read a model profile created for this call."""
    return Call("GET", await new_profile_path(world, client))


async def new_profile(world: World, _: httpx.AsyncClient, __: str) -> Call:
    """Create a model profile."""
    return Call(
        "POST",
        "/v1/model-profiles",
        {"name": uuid.uuid4().hex[:8], "provider": "anthropic", "model": "m", "api_key": "k-2"},
    )


async def set_environment(world: World, client: httpx.AsyncClient, _: str) -> Call:
    """Set the environment of a repository created for this call."""
    created = await client.post(
        "/v1/repos", headers=world.admin, json=(await new_repo(world, client, "admin")).body
    )
    return Call("PUT", f"/v1/repos/{created.json()['id']}/environment", {"setup": ["true"]})


async def set_secret(world: World, client: httpx.AsyncClient, _: str) -> Call:
    """Set a secret of a repository created for this call."""
    created = await client.post(
        "/v1/repos", headers=world.admin, json=(await new_repo(world, client, "admin")).body
    )
    path = f"/v1/repos/{created.json()['id']}/secrets/NPM_TOKEN"
    return Call("PUT", path, {"value": "npm-rbac-secret", "inject_into": ["setup"]})


async def delete_unknown_secret(world: World, client: httpx.AsyncClient, _: str) -> Call:
    """Remove a secret that does not exist."""
    return Call("DELETE", f"/v1/repos/{uuid.UUID(int=1)}/secrets/NPM_TOKEN")


async def delete_unknown_webhook(world: World, client: httpx.AsyncClient, _: str) -> Call:
    """Remove a webhook that does not exist."""
    return Call("DELETE", f"/v1/webhooks/{uuid.UUID(int=1)}")


async def change_role(world: World, client: httpx.AsyncClient, _: str) -> Call:
    """Change the role of a user created for this call."""
    created = await client.post(
        "/v1/users", headers=world.admin, json=(await new_user(world, client, "admin")).body
    )
    return Call("PUT", f"/v1/users/{created.json()['id']}/role", {"role": "developer"})


async def disable_user(world: World, client: httpx.AsyncClient, _: str) -> Call:
    """Disable a user created for this call."""
    created = await client.post(
        "/v1/users", headers=world.admin, json=(await new_user(world, client, "admin")).body
    )
    return Call("PUT", f"/v1/users/{created.json()['id']}/disabled", {"disabled": True})


async def user_tokens(world: World, client: httpx.AsyncClient, _: str) -> Call:
    """List the API tokens of a user created for this call."""
    created = await client.post(
        "/v1/users", headers=world.admin, json=(await new_user(world, client, "admin")).body
    )
    return Call("GET", f"/v1/users/{created.json()['id']}/tokens")


async def revoke_own(world: World, client: httpx.AsyncClient, role: str) -> Call:
    """Revoke a token the caller made (anonymous callers have none: any id)."""
    if role == "anonymous":
        return Call("DELETE", f"/v1/tokens/{uuid.uuid4()}")
    made = await client.post(
        "/v1/tokens", headers=headers_for(world.platform, role), json={"name": "matrix"}
    )
    return Call("DELETE", f"/v1/tokens/{made.json()['id']}")


async def login(world: World, _: httpx.AsyncClient, __: str) -> Call:
    """The public password flow."""
    return Call(
        "POST",
        "/v1/auth/token",
        {"username": "admin", "password": world.platform.secrets[ADMIN_PASSWORD]},
    )


async def webhook(world: World, _: httpx.AsyncClient, __: str) -> Call:
    """A correctly signed GitHub delivery (public: the signature is the credential)."""
    body = json.dumps({"zen": "Keep it logically awesome."}).encode()
    secret = world.platform.secrets[GITHUB_WEBHOOK_SECRET].encode()
    signature = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    return Call(
        "POST",
        "/v1/github/webhook",
        content=body,
        headers={
            "x-github-event": "ping",
            "x-github-delivery": str(uuid.uuid4()),
            "x-hub-signature-256": signature,
            "content-type": "application/json",
        },
    )


async def run_stream(world: World, _: httpx.AsyncClient, __: str) -> Call:
    """A finished run's stream, resumed at its end (204: nothing left to send)."""
    return Call(
        "GET", f"/v1/runs/{world.run_id}/stream", headers={"last-event-id": str(world.last_seq)}
    )


async def task_stream(world: World, _: httpx.AsyncClient, __: str) -> Call:
    """A task's stream (read up to the first frame only)."""
    return Call("GET", f"/v1/tasks/{world.task_id}/stream")


async def stream_ticket(world: World, _: httpx.AsyncClient, __: str) -> Call:
    """A ticket for the finished run's stream."""
    return Call("POST", "/v1/streams/tickets", {"path": f"/v1/runs/{world.run_id}/stream"})


# (method, OpenAPI path) -> (minimum role, or "public"; success status; request maker)
MATRIX: dict[tuple[str, str], tuple[str, int, Maker | str]] = {
    ("POST", "/v1/auth/token"): ("public", 200, login),
    ("POST", "/v1/github/webhook"): ("public", 202, webhook),
    ("GET", "/v1/me"): ("viewer", 200, "/v1/me"),
    ("GET", "/v1/users"): ("admin", 200, "/v1/users"),
    ("POST", "/v1/users"): ("admin", 201, new_user),
    ("PUT", "/v1/users/{user_id}/role"): ("admin", 200, change_role),
    ("PUT", "/v1/users/{user_id}/disabled"): ("admin", 200, disable_user),
    ("GET", "/v1/users/{user_id}/tokens"): ("admin", 200, user_tokens),
    ("GET", "/v1/tokens"): ("viewer", 200, "/v1/tokens"),
    ("POST", "/v1/tokens"): ("viewer", 201, post("/v1/tokens", {"name": "m"})),
    ("DELETE", "/v1/tokens/{token_id}"): ("viewer", 204, revoke_own),
    ("GET", "/v1/gateway/metrics"): ("admin", 200, "/v1/gateway/metrics"),
    ("POST", "/v1/repos"): ("developer", 201, new_repo),
    ("GET", "/v1/repos"): ("viewer", 200, "/v1/repos"),
    ("GET", "/v1/repos/{repo_id}"): ("viewer", 404, f"/v1/repos/{uuid.UUID(int=1)}"),
    ("POST", "/v1/tasks"): ("developer", 422, post("/v1/tasks", {})),
    ("GET", "/v1/tasks"): ("viewer", 200, "/v1/tasks"),
    ("GET", "/v1/tasks/{task_id}"): ("viewer", 200, "/v1/tasks/{task_id}"),
    ("POST", "/v1/tasks/{task_id}/runs"): (
        "developer",
        202,
        post(
            "/v1/tasks/{task_id}/runs",
            {
                "instruction": "m",
                "executors": [{"type": "command", "options": {"template": "append-note"}}],
            },
        ),
    ),
    ("GET", "/v1/tasks/{task_id}/runs"): ("viewer", 200, "/v1/tasks/{task_id}/runs"),
    ("GET", "/v1/tasks/{task_id}/messages"): ("viewer", 200, "/v1/tasks/{task_id}/messages"),
    ("GET", "/v1/tasks/{task_id}/pull-requests"): (
        "viewer",
        200,
        "/v1/tasks/{task_id}/pull-requests",
    ),
    ("GET", "/v1/tasks/{task_id}/stream"): ("viewer", 200, task_stream),
    ("GET", "/v1/runs/{run_id}"): ("viewer", 200, "/v1/runs/{run_id}"),
    ("POST", "/v1/runs/{run_id}/messages"): ("developer", 202, follow_up),
    ("GET", "/v1/runs/{run_id}/messages"): ("viewer", 200, "/v1/runs/{run_id}/messages"),
    ("POST", "/v1/runs/{run_id}/cancel"): ("developer", 202, post("/v1/runs/{run_id}/cancel")),
    ("GET", "/v1/runs/{run_id}/patch"): ("viewer", 200, "/v1/runs/{run_id}/patch"),
    ("GET", "/v1/runs/{run_id}/events"): ("viewer", 200, "/v1/runs/{run_id}/events"),
    ("GET", "/v1/runs/{run_id}/stream"): ("viewer", 204, run_stream),
    ("POST", "/v1/streams/tickets"): ("viewer", 201, stream_ticket),
    ("POST", "/v1/runs/{run_id}/pull-request"): (
        "developer",
        202,
        post("/v1/runs/{run_id}/pull-request"),
    ),
    ("GET", "/v1/runs/{run_id}/pull-request/loop"): (
        "viewer",
        404,
        f"/v1/runs/{uuid.UUID(int=1)}/pull-request/loop",
    ),
    ("GET", "/v1/repos/{repo_id}/environment"): (
        "viewer",
        404,
        f"/v1/repos/{uuid.UUID(int=1)}/environment",
    ),
    ("PUT", "/v1/repos/{repo_id}/environment"): ("developer", 200, set_environment),
    ("GET", "/v1/repos/{repo_id}/secrets"): (
        "viewer",
        404,
        f"/v1/repos/{uuid.UUID(int=1)}/secrets",
    ),
    ("PUT", "/v1/repos/{repo_id}/secrets/{name}"): ("developer", 200, set_secret),
    ("DELETE", "/v1/repos/{repo_id}/secrets/{name}"): ("developer", 404, delete_unknown_secret),
    ("GET", "/v1/usage"): ("viewer", 200, "/v1/usage"),
    ("GET", "/v1/runs/{run_id}/usage"): ("viewer", 200, "/v1/runs/{run_id}/usage"),
    ("GET", "/v1/tasks/{task_id}/usage"): ("viewer", 200, "/v1/tasks/{task_id}/usage"),
    ("GET", "/v1/repos/{repo_id}/usage"): ("viewer", 404, f"/v1/repos/{uuid.UUID(int=1)}/usage"),
    ("GET", "/v1/runs/{run_id}/verifications"): (
        "viewer",
        200,
        "/v1/runs/{run_id}/verifications",
    ),
    ("GET", "/v1/tasks/{task_id}/comparison"): (
        "viewer",
        200,
        "/v1/tasks/{task_id}/comparison",
    ),
    ("POST", "/v1/model-profiles"): ("admin", 201, new_profile),
    ("GET", "/v1/model-profiles"): ("viewer", 200, "/v1/model-profiles"),
    ("GET", "/v1/model-profiles/{profile_id}"): ("viewer", 200, read_profile),
    ("DELETE", "/v1/model-profiles/{profile_id}"): ("admin", 204, delete_profile),
    ("GET", "/v1/dead-letters"): ("admin", 200, "/v1/dead-letters"),
    ("GET", "/v1/webhooks"): ("admin", 200, "/v1/webhooks"),
    # The platform runs in cloud mode: a loopback target is refused (400) to an Admin.
    ("POST", "/v1/webhooks"): (
        "admin",
        400,
        post("/v1/webhooks", {"url": "https://127.0.0.1/m", "event_types": ["run.finished"]}),
    ),
    ("DELETE", "/v1/webhooks/{webhook_id}"): ("admin", 404, delete_unknown_webhook),
    ("GET", "/v1/webhooks/{webhook_id}/deliveries"): (
        "admin",
        404,
        f"/v1/webhooks/{uuid.UUID(int=1)}/deliveries",
    ),
}


def headers_for(platform: Platform, role: str) -> dict[str, str]:
    """A bearer token of that role (none for anonymous)."""
    if role == "anonymous":
        return {}
    return platform.bearer(role, subject=f"matrix-{role}")


def expected(route: tuple[str, str], role: str) -> int:
    """What the matrix promises that role for that route."""
    minimum, success, _ = MATRIX[route]
    if minimum == "public":
        return success
    if role == "anonymous":
        return 401
    return success if RANK[role] >= RANK[minimum] else 403


async def public_routes(platform: Platform) -> set[tuple[str, str]]:
    """Every /v1 route the services document (run-api, auth and the gateway's merged one)."""
    found = set()
    async with httpx.AsyncClient(timeout=10) as client:
        for app_id in ("run-api", "auth", "events-gateway"):
            spec = (await client.get(f"{platform.replica(app_id).url}/openapi.json")).json()
            for path, operations in spec["paths"].items():
                if path.startswith("/v1/"):
                    found |= {(method.upper(), path) for method in operations}
    return found


@pytest.fixture(scope="module")
async def world(platform: Platform, tmp_path_factory: pytest.TempPathFactory) -> World:
    """One repository, task and finished run, made by the admin."""
    remote = make_remote(tmp_path_factory.mktemp("matrix"))
    admin = headers_for(platform, "admin")
    async with httpx.AsyncClient(
        base_url=platform.gateway.url, headers=admin, timeout=60
    ) as client:
        repo = (await client.post("/v1/repos", json={"url": f"file://{remote}"})).json()
        task = (
            await client.post("/v1/tasks", json={"repo_id": repo["id"], "title": "matrix"})
        ).json()
        world = World(platform, remote, task["id"], "", 0, admin)
        world.run_id = await fresh_run(world, client)
        world.last_seq = (await client.get(f"/v1/runs/{world.run_id}")).json()["last_seq"]
    return world


async def test_every_documented_route_is_in_the_matrix(platform: Platform) -> None:
    assert await public_routes(platform) == set(MATRIX)


@pytest.mark.parametrize("route", sorted(MATRIX), ids=lambda r: f"{r[0]} {r[1]}")
async def test_each_role_gets_exactly_the_expected_status(
    world: World, route: tuple[str, str]
) -> None:
    answers = {}
    async with httpx.AsyncClient(base_url=world.platform.gateway.url, timeout=60) as client:
        for role in ROLES:
            answers[role] = await status_of(world, client, route, role)
    assert answers == {role: expected(route, role) for role in ROLES}


async def status_of(
    world: World, client: httpx.AsyncClient, route: tuple[str, str], role: str
) -> int:
    """Send the route's request as `role`; streams are closed after their headers."""
    maker = MATRIX[route][2]
    call = await (
        maker(world, client, role) if callable(maker) else (await get(maker))(world, client, role)
    )
    headers = headers_for(world.platform, role) | (call.headers or {})
    async with client.stream(
        call.method, call.path, json=call.body, content=call.content, headers=headers
    ) as response:
        return response.status_code
