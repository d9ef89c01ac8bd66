"""Request and response bodies of repository secrets (values go in, never out)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from dursor_contracts.environment import SecretPlace
from dursor_kit.web.request_bodies import RequestBody

Place = SecretPlace
SECRET_MAX_CHARS = 32 * 1024


class SecretPut(RequestBody):
    """A secret's value (write-only) and where the runner injects it."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"value": "npm_abc123", "inject_into": ["setup"]}]},
    )

    value: SecretStr = Field(min_length=1, max_length=SECRET_MAX_CHARS)
    inject_into: list[Place] = Field(min_length=1, max_length=3)

    @field_validator("inject_into")
    @classmethod
    def _once_each(cls, places: list[Place]) -> list[Place]:
        if len(set(places)) != len(places):
            raise ValueError("each place at most once")
        return places


class SecretOut(BaseModel):
    """A secret's name and where it is injected; never its value."""

    name: str
    inject_into: list[Place]
    encryption_key_id: str
    updated_by: str
    updated_at: datetime


class SecretList(BaseModel):
    """A repository's secrets and the places the operator allows."""

    items: list[SecretOut]
    allowed_places: list[Place]
