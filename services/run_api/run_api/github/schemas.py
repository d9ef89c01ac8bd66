"""What the gateway forwards of a GitHub webhook delivery."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from dursor_kit.web.request_bodies import RequestBody


class WebhookDelivery(RequestBody):
    """A delivery as the gateway forwards it: event name, delivery id, payload."""

    event: str = Field(min_length=1, max_length=100)
    delivery: str = Field(max_length=100)
    payload: dict[str, Any]
