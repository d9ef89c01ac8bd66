"""Bodies of the model-profile API: a provider credential that is written, never read."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, StringConstraints

from dursor_contracts.executors import ModelName
from dursor_kit.web.request_bodies import RequestBody
from run_api.schemas import Title

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
Provider = Literal["openai", "anthropic", "google"]


def _valid_base_url(url: str) -> str:
    """HTTPS anywhere, plain HTTP only on loopback (local stand-ins); no credentials."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host or parts.username or parts.password or parts.query or parts.fragment:
        raise ValueError("expected http(s)://host[:port][/path] without credentials or query")
    if parts.scheme != "https" and not (parts.scheme == "http" and host in LOOPBACK_HOSTS):
        raise ValueError("base_url must use https (http only on loopback)")
    return url.rstrip("/")


def _valid_api_key(key: SecretStr) -> SecretStr:
    """A key is one token of visible ASCII: whitespace inside means a paste error."""
    value = key.get_secret_value()
    if not value.isascii() or not value.isprintable() or any(c.isspace() for c in value):
        raise ValueError("the API key must be visible ASCII without spaces")
    return key


BaseUrl = Annotated[
    str, StringConstraints(min_length=8, max_length=2048), AfterValidator(_valid_base_url)
]
ApiKey = Annotated[SecretStr, Field(min_length=1, max_length=4096), AfterValidator(_valid_api_key)]


class ModelProfileCreate(RequestBody):
    """A provider credential for `llm` runs (and agents that take a key)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "team anthropic",
                    "provider": "anthropic",
                    "model": "claude-sonnet-4-5",
                    "api_key": "sk-ant-example-not-a-real-key",
                }
            ]
        },
    )

    name: Title
    provider: Provider
    model: ModelName
    base_url: BaseUrl | None = None
    api_key: ApiKey = Field(
        description="Write-only: encrypted at rest, never returned, logged or published"
    )
    shared: bool = Field(
        default=False, description="Every user may run with it; otherwise only its owner"
    )


class ModelProfileOut(BaseModel):
    """A model profile as anyone may see it: the key itself never leaves run-api."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "5a8f0c1e-2b7d-4e0a-9c61-3d2f4b6a8e10",
                    "name": "team anthropic",
                    "provider": "anthropic",
                    "model": "claude-sonnet-4-5",
                    "base_url": None,
                    "has_key": True,
                    "encryption_key_id": "k1a2b3c4d",
                    "created_by": "http://127.0.0.1:8083#admin",
                    "shared": True,
                    "created_at": "2026-11-28T17:30:00Z",
                }
            ]
        }
    )

    id: UUID
    name: str
    provider: Provider
    model: str
    base_url: str | None
    has_key: bool = True
    encryption_key_id: str = Field(description="Id of the ring key that seals the API key")
    created_by: str
    shared: bool = Field(description="Every user may run with it; otherwise only its owner")
    created_at: datetime
