"""Settings every service shares; each service extends `ServiceSettings` with its own."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Validated at start; secrets come from the Dapr secret store unless given here."""

    model_config = SettingsConfigDict(env_prefix="DURSOR_", extra="ignore", frozen=True)

    app_id: str = Field(validation_alias=AliasChoices("APP_ID", "DURSOR_APP_ID"))
    dapr_http_port: int = Field(
        default=3500, validation_alias=AliasChoices("DAPR_HTTP_PORT", "DURSOR_DAPR_HTTP_PORT")
    )
    # Token this app presents to its sidecar, and the sidecar presents to this app.
    dapr_api_token: SecretStr | None = Field(default=None, validation_alias="DAPR_API_TOKEN")
    app_api_token: SecretStr | None = Field(default=None, validation_alias="APP_API_TOKEN")
    secret_store: str = "secretstore"  # noqa: S105 - a component name
    database_url: SecretStr | None = None
    # entra: sign in to PostgreSQL with the managed identity's Entra tokens (Azure).
    database_auth: Literal["password", "entra"] = "password"
    azure_client_id: str | None = Field(default=None, validation_alias="AZURE_CLIENT_ID")
    database_pool_size: int = Field(default=10, ge=1, le=200)
    log_format: Literal["json", "console"] = "json"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    sidecar_wait_seconds: float = Field(default=60.0, ge=0)
    # Share of new traces recorded (parent-based: a caller's decision is followed).
    otel_sample_ratio: float = Field(default=1.0, ge=0.0, le=1.0)
    # Azure Container Apps cannot load declarative subscriptions: answer /dapr/subscribe.
    programmatic_subscriptions: bool = False
    # Tokens: issuers this service accepts (the local auth service or Entra ID).
    auth_issuer: str = "http://127.0.0.1:8083"
    auth_audience: str = "dursor"
    auth_jwks_url: str | None = None
    auth_mode: Literal["local", "entra"] = "local"
    auth_entra_tenant_id: str | None = None
    # Entra ID security-group object id -> role name (admin, developer, viewer).
    auth_group_roles: dict[str, Literal["admin", "developer", "viewer"]] = Field(
        default_factory=dict
    )
    auth_jwks_refresh_seconds: float = Field(default=30.0, gt=0)
    auth_jwks_ttl_seconds: float = Field(default=300.0, gt=0)
    auth_leeway_seconds: int = Field(default=30, ge=0, le=300)
    # A user's role binding (and disabled flag) is re-read at least this often: a role
    # taken away, or a user disabled, stops working within this many seconds.
    auth_binding_cache_seconds: float = Field(default=30.0, ge=0, le=30)
    artifacts_backend: Literal["local", "azure"] = "local"
    artifacts_dir: str = ".data/artifacts"
    artifacts_account_url: str | None = None
    artifacts_container: str = "dursor"
    artifacts_connection_string: SecretStr | None = None

    def sidecar_app_token(self) -> str | None:
        """The token the sidecar presents to this app, if one is configured."""
        return self.app_api_token.get_secret_value() if self.app_api_token else None
