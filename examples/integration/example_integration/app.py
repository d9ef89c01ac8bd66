"""The example integration's FastAPI app: Dapr subscriptions through `DaprApp`.

Start it beside the platform with its own sidecar: `dapr run -f examples/integration/dapr.yaml`.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from dapr.ext.fastapi import DaprApp
from fastapi import FastAPI, HTTPException, Request

from example_integration.notifier import notify
from example_integration.settings import PUBSUB, RUN_LIFECYCLE, Settings
from example_integration.ticket_bridge import Ticket, submit


def _from_sidecar(request: Request, settings: Settings) -> None:
    """Only this app's sidecar may deliver: it presents the app's API token."""
    if settings.app_api_token is None:
        return
    presented = request.headers.get("dapr-api-token", "")
    if not hmac.compare_digest(presented.encode(), settings.app_api_token.encode()):
        raise HTTPException(401, "only this app's Dapr sidecar may deliver events")


def create_app() -> FastAPI:
    """The app: /healthz, /readyz, the run-lifecycle subscription and POST /tickets."""
    settings = Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient(timeout=10) as client:
            app.state.http = client
            yield

    app = FastAPI(title="dursor example integration", lifespan=lifespan)
    dapr_app = DaprApp(app)

    async def on_run_lifecycle(request: Request) -> dict[str, str]:
        """A run's turn was accepted, started or finished: tell the chat when it finished."""
        _from_sidecar(request, settings)
        event: dict[str, Any] = await request.json()
        delivered = await notify(request.app.state.http, settings.chat_webhook_url, event)
        # RETRY: Dapr tries again by the resiliency policy (the chat may be down briefly).
        return {"status": "SUCCESS" if delivered else "RETRY"}

    dapr_app.subscribe(pubsub=PUBSUB, topic=RUN_LIFECYCLE, route="/events/run-lifecycle")(
        on_run_lifecycle
    )

    @app.post("/tickets", status_code=202)
    async def open_ticket(ticket: Ticket) -> dict[str, str]:
        """Ask dursor for the ticket's runs (idempotent by ticket id)."""
        return {"event_id": await submit(ticket, settings.service_identity)}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        return {"status": "ready"}

    return app
