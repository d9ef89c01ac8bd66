"""Every route that only Dapr calls refuses a caller without the sidecar's app token.

The routes are found by walking each service's real app, so a route added later under
`/dapr/`, `/internal/` or as a binding (anything that is not public) fails here unless it
uses `dursor_contracts.web.sidecar_router`.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from agent_runner.app import create_app as create_runner
from agent_runner.settings import RunnerSettings
from auth_service.app import create_app as create_auth
from auth_service.settings import AuthSettings
from dursor_contracts.web import create_service_app, no_lifespan, sidecar_router
from events_gateway.app import create_app as create_gateway
from events_gateway.settings import GatewaySettings
from run_api.app import create_app as create_run_api
from run_api.settings import RunApiSettings

TOKEN = "the-sidecars-token"
# Paths anyone may call: the public API (each route checks its bearer token), health,
# the OIDC discovery documents and the API description.
PUBLIC = re.compile(
    r"/v1/.*|/healthz|/readyz|/\.well-known/.*|/openapi\.json|/docs(/oauth2-redirect)?|/redoc"
)
SIDECAR_DETAIL = "only this app's Dapr sidecar may call this route"

NO_LIFESPAN = contextlib.asynccontextmanager(no_lifespan)


def apps() -> dict[str, Callable[[], FastAPI]]:
    """Each service's app as it runs on Container Apps (programmatic subscriptions too)."""
    return {
        "run-api": lambda: create_run_api(
            RunApiSettings(programmatic_subscriptions=True, app_api_token=TOKEN)
        ),
        "agent-runner": lambda: create_runner(
            RunnerSettings(programmatic_subscriptions=True, app_api_token=TOKEN)
        ),
        "auth": lambda: create_auth(
            AuthSettings(programmatic_subscriptions=True, app_api_token=TOKEN)
        ),
        "events-gateway": lambda: create_gateway(
            GatewaySettings(programmatic_subscriptions=True, app_api_token=TOKEN)
        ),
    }


def sidecar_only_calls(app: FastAPI) -> Iterator[tuple[str, str]]:
    """(method, concrete path) of every route that is not public."""
    for route in iter_route_contexts(app.routes):
        path = route.path
        if path is None or PUBLIC.fullmatch(path):
            continue
        concrete = re.sub(r"\{[^}]+\}", "00000000-0000-0000-0000-000000000000", path)
        for method in sorted((route.methods or set()) - {"HEAD"}):
            yield method, concrete


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
