"""Every route that only Dapr calls refuses a caller without the sidecar's app token.

The routes are found by walking each service's real app, so a route added later under
`/dapr/`, `/internal/` or as a binding (anything that is not public) fails here unless it
uses `dursor_kit.web.security.sidecar_router`.
"""

from __future__ import annotations

import contextlib

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from dursor_kit.web.app import create_service_app, no_lifespan
from dursor_kit.web.security import sidecar_router
from tests.support.sidecar_routes import SIDECAR_DETAIL, TOKEN, apps, sidecar_only_calls

NO_LIFESPAN = contextlib.asynccontextmanager(no_lifespan)


def unguarded(app: FastAPI, headers: dict[str, str]) -> list[str]:
    """The non-public calls that do not answer the sidecar check's 401."""
    client = TestClient(app, raise_server_exceptions=False)
    found = []
    for method, path in sidecar_only_calls(app):
        response = client.request(method, path, json={}, headers=headers)
        if response.status_code != 401 or SIDECAR_DETAIL not in response.text:
            found.append(f"{method} {path} -> {response.status_code}")
    return found


@pytest.mark.parametrize("service", sorted(apps()))
def test_every_non_public_route_wants_the_sidecar_token(service: str) -> None:
    app = apps()[service]()
    assert app.state.app_api_token == TOKEN
    assert list(sidecar_only_calls(app)), "the walk found no route only Dapr calls"
    assert unguarded(app, {}) == []
    # A forged caller id does not stand in for the token, nor does a wrong token.
    forged = {"dapr-caller-app-id": "agent-runner", "dapr-api-token": "guess"}
    assert unguarded(app, forged) == []


def test_the_walk_finds_a_route_that_forgot_the_sidecar_router() -> None:
    forgotten, guarded = APIRouter(prefix="/internal"), sidecar_router("/dapr")

    @forgotten.post("/forgotten")
    async def forgot() -> dict[str, str]:
        return {"reached": "yes"}

    @guarded.post("/guarded")
    async def guard() -> dict[str, str]:
        return {"reached": "yes"}

    app = create_service_app("t", NO_LIFESPAN, [forgotten, guarded], app_api_token=TOKEN)
    assert unguarded(app, {}) == ["POST /internal/forgotten -> 200"]


def test_the_sidecar_gets_through_with_its_token() -> None:
    router = sidecar_router("/dapr")

    @router.post("/probe")
    async def probe() -> dict[str, str]:
        return {"reached": "yes"}

    client = TestClient(create_service_app("t", NO_LIFESPAN, [router], app_api_token=TOKEN))
    assert client.post("/dapr/probe", headers={"dapr-api-token": TOKEN}).json() == {
        "reached": "yes"
    }


def test_an_app_without_a_token_refuses_every_sidecar_route() -> None:
    router = sidecar_router("/dapr")

    @router.post("/probe")
    async def probe() -> dict[str, str]:
        return {"reached": "yes"}

    client = TestClient(create_service_app("t", NO_LIFESPAN, [router], app_api_token=None))
    assert client.post("/dapr/probe", headers={"dapr-api-token": ""}).status_code == 401
