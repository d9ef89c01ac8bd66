"""`GET /dapr/subscribe`: an app's subscriptions for Dapr when they cannot be declarative."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from dursor_contracts.subscriptions import subscriptions_of
from dursor_kit.web.security import sidecar_router


def subscription_router(app_id: str) -> APIRouter:
    """`GET /dapr/subscribe` answering with this app's subscriptions."""
    router = sidecar_router()
    entries = [s.programmatic() for s in subscriptions_of(app_id)]

    @router.get("/dapr/subscribe")
    async def subscribe() -> list[dict[str, Any]]:
        """Dapr asks this at start when subscriptions are programmatic."""
        return entries

    return router
