"""Request and response bodies of API tokens."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from auth_service.tokens.repository import TokenRow
from dursor_kit.auth.verifier import Role
from dursor_kit.web.request_bodies import RequestBody


class TokenCreate(RequestBody):
    """A name, a role no higher than yours, and a lifetime."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"name": "ci", "role": "developer", "expires_in_days": 30}]
        },
    )

    name: str = Field(min_length=1, max_length=100)
    role: Role | None = None
    expires_in_days: int = Field(default=30, ge=1, le=365)


class TokenOut(BaseModel):
    """An API token's record (the token itself is shown once, at creation)."""

    id: UUID
    name: str
    role: Role
    expires_at: datetime
    revoked_at: datetime | None
    created_at: datetime


class TokenCreated(TokenOut):
    """The new token: keep it, it is not shown again."""

    token: str


def token_out(row: TokenRow) -> TokenOut:
    """The public view of a token row."""
    return TokenOut.model_validate(row, from_attributes=True)
