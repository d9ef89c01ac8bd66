"""Each service's real app, and the routes of it that only its Dapr sidecar may call."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from agent_runner.app import create_app as create_runner
from agent_runner.settings import RunnerSettings
from auth_service.app import create_app as create_auth
from auth_service.settings import AuthSettings
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


def apps(programmatic: bool = True) -> dict[str, Callable[[], FastAPI]]:
    """Each service's app: as on Container Apps (`GET /dapr/subscribe` too) or as locally."""
    return {
        "run-api": lambda: create_run_api(
            RunApiSettings(programmatic_subscriptions=programmatic, app_api_token=TOKEN)
        ),
        "agent-runner": lambda: create_runner(
            RunnerSettings(programmatic_subscriptions=programmatic, app_api_token=TOKEN)
        ),
        "auth": lambda: create_auth(
            AuthSettings(programmatic_subscriptions=programmatic, app_api_token=TOKEN)
        ),
        "events-gateway": lambda: create_gateway(
            GatewaySettings(programmatic_subscriptions=programmatic, app_api_token=TOKEN)
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
