"""Request and response bodies of the local OIDC issuer."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from dursor_kit.auth.verifier import Role
from dursor_kit.web.request_bodies import RequestBody


class TokenRequest(RequestBody):
    """Local mode: a user's name and password."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=100)
    password: SecretStr = Field(min_length=1, max_length=1000)


class TokenResponse(BaseModel):
    """An access token for the `Authorization: Bearer` header."""

    access_token: str
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int


class Me(BaseModel):
    """The caller."""

    subject: str
    username: str
    issuer: str
    role: Role
