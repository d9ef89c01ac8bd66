"""events-gateway settings: routing, CORS, SSE timing and buffers."""

from __future__ import annotations

from pydantic import Field

from dursor_contracts.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    """Validated at start."""

    app_id: str = "events-gateway"
    cors_origins: list[str] = Field(default_factory=list)
    sse_ping_seconds: float = Field(default=15.0, gt=0)
    sse_retry_ms: int = Field(default=2000, ge=100)
    sse_max_lifetime_seconds: float = Field(default=1800.0, gt=0)
    sse_client_buffer: int = Field(default=1024, ge=8)
    sse_replay_page: int = Field(default=1000, ge=10, le=5000)
    # How often the gateway checks Postgres for events whose publish never arrived.
    catch_up_seconds: float = Field(default=15.0, gt=0)
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    upstream_timeout_seconds: float = Field(default=30.0, gt=0)
    # Per caller: sustained requests per second and burst (0 turns the limit off).
    rate_limit_per_second: float = Field(default=20.0, ge=0)
    rate_limit_burst: int = Field(default=60, ge=1)
    # Abandoned consumer groups of pubsub-broadcast (sidecars that are gone) are deleted
    # once every consumer of the group has been idle this long.
    redis_host: str | None = None
    redis_password: str | None = None
    redis_db: int = Field(default=0, ge=0, le=15)
    janitor_idle_seconds: float = Field(default=600.0, gt=0)
    janitor_interval_seconds: float = Field(default=60.0, gt=0)
    # A webhook whose signature fails makes the gateway re-read the webhook secret from
    # the secret store, at most this often (rotation without restart).
    webhook_secret_refresh_seconds: float = Field(default=30.0, gt=0)
    # Delivery ids are remembered this long (GitHub redelivers up to 3 days back).
    webhook_delivery_ttl_seconds: int = Field(default=3 * 24 * 3600, ge=24 * 3600)
