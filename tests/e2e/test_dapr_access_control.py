"""Dapr itself refuses what each app's policy does not allow, asserted on real sidecars.

Callers are identified by their mTLS certificates from Sentry, so the invocation policy
holds even for a caller that talks to its own sidecar correctly (with its API token);
secret scopes and topic scopes are enforced by each app's own sidecar.
"""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi.routing import iter_route_contexts

from auth_service.app import create_app as create_auth
from auth_service.settings import AuthSettings
from dursor_kit.secret_names import APP_IDS, SECRETS_READ_BY
from run_api.app import create_app as create_run_api
from run_api.settings import RunApiSettings
from tests.support.platform import Platform
from tests.support.sidecar_routes import apps, sidecar_only_calls

pytestmark = pytest.mark.e2e

DENIED = "access control policy has denied access"
ID = "00000000-0000-0000-0000-000000000000"


async def invoke(
    platform: Platform, caller: str, callee: str, method: str, path: str, **headers: str
) -> httpx.Response:
    """Call `path` of `callee` through the sidecar of `caller`."""
    replica = platform.replica(caller)
    async with httpx.AsyncClient(timeout=15) as client:
        return await client.request(
            method,
            f"{replica.sidecar_url}/v1.0/invoke/{callee}/method/{path.lstrip('/')}",
            headers=replica.sidecar_headers | {"content-type": "application/json"} | headers,
            content=b"{}",
        )


def public_operations() -> list[tuple[str, str, str]]:
    """(app id, method, concrete path) of every public route of run-api and auth."""
    found = []
    for app_id, app in (
        ("run-api", create_run_api(RunApiSettings())),
        ("auth", create_auth(AuthSettings())),
    ):
        for route in iter_route_contexts(app.routes):
            if route.path and route.path.startswith("/v1/"):
                path = re.sub(r"\{[^}]+\}", ID, route.path)
                found += [(app_id, m, path) for m in sorted((route.methods or set()) - {"HEAD"})]
    return found


@pytest.mark.parametrize(("callee", "method", "path"), public_operations())
async def test_the_gateway_reaches_every_public_operation(
    platform: Platform, callee: str, method: str, path: str
) -> None:
    reached = await invoke(platform, "events-gateway", callee, method, path)
    assert DENIED not in reached.text
    # The service answered itself: it wants a bearer token (or validates the body first).
    assert reached.status_code in (401, 422), reached.text


@pytest.mark.parametrize(
    ("callee", "method", "path"),
    [
        ("run-api", "POST", "/internal/github/other"),
        ("run-api", "POST", "/dapr/dead-letters"),
        ("run-api", "GET", "/dapr/subscribe"),
        ("run-api", "GET", "/healthz"),
        ("run-api", "POST", "/readyz"),
        ("run-api", "PATCH", f"/v1/runs/{ID}"),
        ("run-api", "PATCH", "/v1/repos"),
        ("auth", "POST", "/internal/github/installation-token"),
        ("auth", "GET", "/.well-known/jwks.json"),
        ("auth", "PUT", "/v1/me"),
        ("agent-runner", "POST", "/dapr/run-requested"),
        ("agent-runner", "POST", "/ci-poll"),
        ("agent-runner", "GET", "/healthz"),
    ],
)
async def test_the_gateway_reaches_nothing_else(
    platform: Platform, callee: str, method: str, path: str
) -> None:
    refused = await invoke(platform, "events-gateway", callee, method, path)
    assert refused.status_code == 403
    assert DENIED in refused.text


@pytest.mark.parametrize("callee", ["run-api", "auth"])
async def test_the_gateway_reads_the_readiness_of_the_apps_it_routes_to(
    platform: Platform, callee: str
) -> None:
    ready = await invoke(platform, "events-gateway", callee, "GET", "/readyz")
    assert ready.status_code == 200, ready.text  # what the gateway's own /readyz asks
    assert ready.json()["ready"] is True


async def test_the_gateway_delivers_webhooks_to_run_api(platform: Platform) -> None:
    delivered = await invoke(
        platform, "events-gateway", "run-api", "POST", "/internal/github/events"
    )
    assert DENIED not in delivered.text
    assert delivered.status_code == 422  # reached run-api: `{}` is not a delivery


@pytest.mark.parametrize("caller", ["agent-runner", "auth"])
async def test_only_the_gateway_may_invoke_run_api(platform: Platform, caller: str) -> None:
    refused = await invoke(platform, caller, "run-api", "GET", "/v1/repos")
    assert refused.status_code >= 400
    assert DENIED in refused.text
    allowed = await invoke(platform, "events-gateway", "run-api", "GET", "/v1/repos")
    assert allowed.status_code == 401  # reached run-api, which wants a bearer token
    assert DENIED not in allowed.text


@pytest.mark.parametrize("path", ["/v1/me", "/v1/users", "/internal/github/other"])
async def test_agent_runner_may_invoke_only_the_github_token_operation_of_auth(
    platform: Platform, path: str
) -> None:
    refused = await invoke(platform, "agent-runner", "auth", "POST", path)
    assert DENIED in refused.text
    token = await invoke(
        platform, "agent-runner", "auth", "POST", "/internal/github/installation-token"
    )
    assert DENIED not in token.text
    assert token.status_code == 422  # reached auth: the empty body is not a token request


async def test_run_api_may_invoke_only_the_commenter_permission_operation_of_auth(
    platform: Platform,
) -> None:
    refused = [
        await invoke(platform, "run-api", "auth", method, path)
        for method, path in (("GET", "/v1/me"), ("POST", "/internal/github/installation-token"))
    ]
    assert all(DENIED in r.text for r in refused)
    asked = await invoke(platform, "run-api", "auth", "POST", "/internal/github/permission")
    assert DENIED not in asked.text
    assert asked.status_code == 422  # reached auth: the empty body is not a permission request


@pytest.mark.parametrize(
    ("caller", "callee"),
    [("run-api", "auth"), ("auth", "agent-runner"), ("run-api", "events-gateway")],
)
async def test_other_callers_are_refused(platform: Platform, caller: str, callee: str) -> None:
    refused = await invoke(platform, caller, callee, "GET", "/v1/me")
    assert DENIED in refused.text


async def test_a_caller_cannot_claim_another_apps_identity(platform: Platform) -> None:
    forged = await invoke(
        platform,
        "events-gateway",
        "auth",
        "POST",
        "/internal/github/installation-token",
        **{"dapr-caller-app-id": "agent-runner"},
    )
    assert forged.status_code == 403
    assert DENIED in forged.text


@pytest.mark.parametrize("app_id", APP_IDS)
async def test_each_sidecar_reads_only_its_apps_secrets(platform: Platform, app_id: str) -> None:
    replica = platform.replica(app_id)
    allowed = set(SECRETS_READ_BY[app_id])
    answers = {}
    async with httpx.AsyncClient(base_url=replica.sidecar_url, timeout=15) as client:
        for name in sorted(platform.secrets):
            response = await client.get(
                f"/v1.0/secrets/secretstore/{name}", headers=replica.sidecar_headers
            )
            answers[name] = response.status_code
        bulk = await client.get("/v1.0/secrets/secretstore/bulk", headers=replica.sidecar_headers)
    assert {name for name, status in answers.items() if status == 200} == allowed & set(
        platform.secrets
    )
    assert {status for name, status in answers.items() if name not in allowed} == {403}
    assert set(bulk.json()) == allowed & set(platform.secrets)
    if app_id != "auth":
        assert answers["jwt-signing-keys"] == 403
    assert answers["postgresql-connection-string"] == 403  # the schema owner's


@pytest.mark.parametrize("app_id", APP_IDS)
async def test_routes_only_dapr_calls_refuse_a_direct_caller(
    platform: Platform, app_id: str
) -> None:
    """On the app's own port, without the sidecar's token: a forged caller id is no use."""
    replica = platform.replica(app_id)
    calls = list(sidecar_only_calls(apps(programmatic=False)[app_id]()))
    assert calls
    async with httpx.AsyncClient(base_url=replica.url, timeout=15) as client:
        for method, path in calls:
            for headers in (
                {},
                {"dapr-caller-app-id": "agent-runner"},
                {"dapr-caller-app-id": "agent-runner", "dapr-api-token": "guess"},
            ):
                response = await client.request(method, path, json={}, headers=headers)
                assert response.status_code == 401, (method, path, headers, response.text)
                assert response.headers["content-type"] == "application/problem+json"
