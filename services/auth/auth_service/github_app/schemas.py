"""What other apps send to and get from the GitHub App operations."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from dursor_kit.web.request_bodies import RequestBody

# GitHub logins: letters, digits and single hyphens (Apps' bots end in `[bot]`).
GITHUB_LOGIN = r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?$"


class TokenRequest(RequestBody):
    """The repository the token must be scoped to."""

    repo_url: str = Field(min_length=1, max_length=2048)


class TokenAnswer(BaseModel):
    """A repository-scoped installation token."""

    token: str
    expires_at: datetime


class PermissionRequest(RequestBody):
    """Whose permission, on which repository."""

    repo_url: str = Field(min_length=1, max_length=2048)
    login: str = Field(pattern=GITHUB_LOGIN, max_length=50)


class PermissionAnswer(BaseModel):
    """GitHub's permission of the user on the repository: admin, write, read or none."""

    permission: str
