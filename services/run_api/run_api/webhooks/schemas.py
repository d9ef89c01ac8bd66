"""What the webhooks endpoints accept and answer."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr

from dursor_contracts.integrations import WebhookEventType
from dursor_kit.web.request_bodies import RequestBody

SECRET_PREFIX = "whsec_"  # noqa: S105 - the Standard Webhooks prefix, not a secret


def _standard_secret(secret: SecretStr) -> SecretStr:
    """`whsec_` + base64 of 24 to 64 random bytes (the Standard Webhooks format)."""
    text = secret.get_secret_value()
    if not text.startswith(SECRET_PREFIX):
        raise ValueError("the secret must look like whsec_<base64 of 24 to 64 bytes>")
    try:
        raw = base64.b64decode(text.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("the secret must look like whsec_<base64 of 24 to 64 bytes>") from exc
    if not 24 <= len(raw) <= 64:
        raise ValueError("the secret must hold 24 to 64 bytes")
    return secret


class WebhookCreate(RequestBody):
    """An endpoint to deliver to, the events it wants, and (optionally) its secret."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://ci.example.com/hooks/dursor",
                    "event_types": ["run.finished", "pull_request.updated"],
                }
            ]
        },
    )

    url: str = Field(min_length=8, max_length=2000)
    event_types: list[WebhookEventType] = Field(min_length=1, max_length=4)
    # Left out, one is made and answered once; either way it is never shown again.
    secret: Annotated[SecretStr, AfterValidator(_standard_secret)] | None = None


class WebhookOut(BaseModel):
    """A registered endpoint (never its secret)."""

    id: UUID
    url: str
    event_types: list[WebhookEventType]
    created_by: str
    created_at: datetime


class WebhookCreated(WebhookOut):
    """The endpoint just registered, with its signing secret: shown this once."""

    secret: str


class DeliveryOut(BaseModel):
    """One delivery of the log: which message, how it went so far."""

    id: int
    message_id: str
    event_type: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime
    delivered_at: datetime | None
