"""Dapr itself refuses service invocations the access-control policy does not allow.

Callers are identified by their mTLS certificates from Sentry, so the policy holds even
for a caller that talks to its own sidecar correctly (with its API token).
"""

from __future__ import annotations

import httpx
import pytest

from tests.support.platform import Platform

pytestmark = pytest.mark.e2e

DENIED = "access control policy has denied access"


async def invoke(
    platform: Platform, caller: str, callee: str, method: str, path: str
) -> httpx.Response:
    """Call `path` of `callee` through the sidecar of `caller`."""
    replica = platform.replica(caller)
    async with httpx.AsyncClient(timeout=15) as client:
        return await client.request(
            method,
            f"{replica.sidecar_url}/v1.0/invoke/{callee}/method/{path.lstrip('/')}",
            headers=replica.sidecar_headers | {"content-type": "application/json"},
            content=b"{}",
        )


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


async def test_the_app_refuses_sidecar_routes_without_the_sidecars_token(
    platform: Platform,
) -> None:
    runner = platform.replica("agent-runner")
    async with httpx.AsyncClient(timeout=10) as client:
        direct = await client.post(f"{runner.url}/dapr/run-requested", json={"id": "x"})
        forged = await client.post(
            f"{runner.url}/dapr/run-requested",
            json={"id": "x"},
            headers={"dapr-api-token": "guess"},
        )
    assert direct.status_code == 401
    assert forged.status_code == 401
    assert direct.headers["content-type"] == "application/problem+json"
