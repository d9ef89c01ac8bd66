"""auth settings: the local issuer's token lifetime and the first admin's name."""

from __future__ import annotations

from pydantic import Field

from dursor_contracts.settings import ServiceSettings


class AuthSettings(ServiceSettings):
    """Validated at start."""

    app_id: str = "auth"
    token_ttl_seconds: int = Field(default=3600, ge=60, le=24 * 3600)
    admin_username: str = "admin"
    # Signing keys are re-read from the secret store this often (rotation without restart).
    key_refresh_seconds: float = Field(default=30.0, gt=0)
    # GitHub or GitHub Enterprise Server (e.g. https://ghe.example.com/api/v3).
    github_api_url: str = "https://api.github.com"
    github_hosts: list[str] = Field(default_factory=lambda: ["github.com"])
