# ruff: noqa: S105 - these are the names of secrets, not their values
"""Names of every secret the code reads from the `secretstore` component.

Locally they live in the bootstrap's JSON file; in Azure they are Key Vault secrets of
the same names (infra/ wires each one). Code reads secrets only through these names.
"""

from __future__ import annotations

POSTGRES_URL = "postgresql-connection-string"
ENCRYPTION_KEYS = "encryption-keys"
JWT_SIGNING_KEYS = "jwt-signing-keys"
ADMIN_PASSWORD = "admin-password"
GITHUB_WEBHOOK_SECRET = "github-webhook-secret"
GITHUB_APP_ID = "github-app-id"
GITHUB_APP_PRIVATE_KEY = "github-app-private-key"


def app_api_token(app_id: str) -> str:
    """The secret holding the token a sidecar and its app present to each other."""
    return f"app-api-token-{app_id}"


APP_IDS = ("events-gateway", "run-api", "agent-runner", "auth")

ALL_SECRETS: tuple[str, ...] = (
    POSTGRES_URL,
    ENCRYPTION_KEYS,
    JWT_SIGNING_KEYS,
    ADMIN_PASSWORD,
    GITHUB_WEBHOOK_SECRET,
    GITHUB_APP_ID,
    GITHUB_APP_PRIVATE_KEY,
    *(app_api_token(app) for app in APP_IDS),
)
