# ruff: noqa: S105 - these are the names of secrets, not their values
"""Names of every secret the code reads from the `secretstore` component.

Locally they live in the bootstrap's JSON file; in Azure the ones its apps read are Key
Vault secrets of the same names (infra/modules/keyvault.bicep): database URLs give way to
Entra sign-in and sidecar tokens to Container Apps' own. Code reads secrets only through
these names.
"""

from __future__ import annotations

# The schema owner's connection string: migrations only, never a service.
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


def database_url(app_id: str) -> str:
    """The secret holding the connection string of `app_id`'s own database role.

    Read where no `DURSOR_DATABASE_URL` is given: a laptop, docker-compose, the tests.
    Container Apps passes each app its connection in the environment instead.
    """
    return f"{POSTGRES_URL}-{app_id}"


DATABASE_URLS: tuple[str, ...] = tuple(database_url(app) for app in APP_IDS)

# Every secret of the local store (Azure's Key Vault holds those its apps read).
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

# What each app's sidecar may read: components/config/<app-id>.yaml allows exactly these
# (a test keeps them equal); every other secret is refused to that app by Dapr itself.
SECRETS_READ_BY: dict[str, tuple[str, ...]] = {
    "events-gateway": (GITHUB_WEBHOOK_SECRET, database_url("events-gateway")),
    "run-api": (ENCRYPTION_KEYS, database_url("run-api")),
    "agent-runner": (ENCRYPTION_KEYS, database_url("agent-runner")),
    "auth": (
        ADMIN_PASSWORD,
        JWT_SIGNING_KEYS,
        GITHUB_APP_ID,
        GITHUB_APP_PRIVATE_KEY,
        database_url("auth"),
    ),
}
