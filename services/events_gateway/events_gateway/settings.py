"""events-gateway settings: routing, CORS, SSE timing and buffers, stream tickets, the edge."""

from __future__ import annotations

import ipaddress

from pydantic import Field, SecretStr, field_validator

from dursor_kit.settings import ServiceSettings

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


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
    # Keep-alive connections from the proxy to its sidecar (requests beyond wait for one).
    proxy_connections: int = Field(default=64, ge=1, le=1024)
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
    # Stream tickets (`POST /v1/streams/tickets`): how long one stays valid, at most a minute.
    stream_ticket_ttl_seconds: int = Field(default=60, ge=1, le=60)
    # Proxies (addresses or CIDR ranges) whose X-Forwarded-For names the client; none by
    # default, so the per-address rate limit never counts a proxy's address for everyone.
    trusted_proxies: list[IpNetwork] = Field(default_factory=list)
    # Azure Front Door profile id: when set, every request but health probes and the
    # sidecar's own routes must carry `X-Azure-FDID` with it (traffic that bypassed the
    # Front Door is refused).
    front_door_id: SecretStr | None = None

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, value: object) -> object:
        if isinstance(value, list) and any(str(item).strip() == "*" for item in value):
            raise ValueError("trusting every address would let any client pick its own")
        if isinstance(value, list):
            return [ipaddress.ip_network(str(item).strip(), strict=False) for item in value]
        return value
