"""auth settings: the local issuer's token lifetime and the first admin's name."""

from __future__ import annotations

from pydantic import Field

from dursor_kit.settings import ServiceSettings


class AuthSettings(ServiceSettings):
    """Validated at start."""

    app_id: str = "auth"
    token_ttl_seconds: int = Field(default=3600, ge=60, le=24 * 3600)
    admin_username: str = "admin"
    # argon2id runs in a pool of this many threads (each hash takes 64 MiB while it runs).
    password_hash_threads: int = Field(default=2, ge=1, le=32)
    # Signing keys are re-read from the secret store this often (rotation without restart).
    key_refresh_seconds: float = Field(default=30.0, gt=0)
    # GitHub or GitHub Enterprise Server (e.g. https://ghe.example.com/api/v3).
    github_api_url: str = "https://api.github.com"
    github_hosts: list[str] = Field(default_factory=lambda: ["github.com"])
    # A review commenter's repository permission is re-asked from GitHub this often.
    github_permission_cache_seconds: int = Field(default=60, ge=1, le=3600)
