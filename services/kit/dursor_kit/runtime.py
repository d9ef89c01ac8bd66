"""The clients every service's lifespan owns: HTTP, sidecar, database, token verifier."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from dursor_kit.auth.bindings import BindingAuthority, BindingCache
from dursor_kit.auth.verifier import API_TOKEN_USE, ROLE_NAMES, IssuerPolicy, TokenVerifier
from dursor_kit.db.engine import create_engine, managed_identity_password
from dursor_kit.logs import configure_logging
from dursor_kit.secret_names import database_url
from dursor_kit.settings import ServiceSettings
from dursor_kit.sidecar import Sidecar
from dursor_kit.telemetry import configure_telemetry
from dursor_kit.web.app import ReadinessCheck, database_check, sidecar_check

log = structlog.get_logger(__name__)


class BackgroundTasks:
    """Long-running loops of a service, cancelled together at shutdown."""

    def __init__(self) -> None:
        self._tasks: list[asyncio.Task[Any]] = []

    def start(self, coroutine: Coroutine[Any, Any, Any], name: str) -> None:
        """Run `coroutine` until shutdown; a crash is logged, never silent."""
        task = asyncio.create_task(coroutine, name=name)
        task.add_done_callback(_log_crash)
        self._tasks.append(task)

    async def stop(self) -> None:
        """Cancel every loop and wait for them to finish."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()


@dataclass
class ServiceRuntime:
    """Clients shared by a service's routes and background loops."""

    settings: ServiceSettings
    http: httpx.AsyncClient
    sidecar: Sidecar
    engine: AsyncEngine
    background: BackgroundTasks = field(default_factory=BackgroundTasks)

    def readiness(self) -> dict[str, ReadinessCheck]:
        """The checks `/readyz` runs."""
        return {"database": database_check(self.engine), "sidecar": sidecar_check(self.sidecar)}

    async def secret(self, name: str) -> str:
        """A secret from the Dapr secret store."""
        return await self.sidecar.get_secret(self.settings.secret_store, name)


def _log_crash(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("background task crashed", task=task.get_name(), error=repr(task.exception()))


@contextlib.asynccontextmanager
async def service_runtime(settings: ServiceSettings) -> AsyncIterator[ServiceRuntime]:
    """Configure logs and telemetry, wait for the sidecar, connect the database."""
    configure_logging(settings.app_id, settings.log_level, settings.log_format)
    configure_telemetry(settings.app_id, settings.otel_sample_ratio)
    token = settings.dapr_api_token.get_secret_value() if settings.dapr_api_token else None
    limits = httpx.Limits(max_connections=500, max_keepalive_connections=100)
    async with httpx.AsyncClient(timeout=30.0, limits=limits) as http:
        sidecar = Sidecar(http, settings.dapr_http_port, token)
        await sidecar.wait_ready(settings.sidecar_wait_seconds)
        url = (
            settings.database_url.get_secret_value()
            if settings.database_url
            else await sidecar.get_secret(settings.secret_store, database_url(settings.app_id))
        )
        entra = (
            managed_identity_password(settings.azure_client_id)
            if settings.database_auth == "entra"
            else None
        )
        engine = create_engine(url, settings.database_pool_size, entra)
        runtime = ServiceRuntime(settings, http, sidecar, engine)
        try:
            yield runtime
        finally:
            await runtime.background.stop()
            await engine.dispose()
            if entra is not None:
                await entra.close()


def token_verifier(
    settings: ServiceSettings, http: httpx.AsyncClient, authority: BindingAuthority | None = None
) -> TokenVerifier:
    """The verifier for the configured issuer: the local auth service or Entra ID.

    With Entra ID, the local issuer stays trusted for personal API tokens only.
    """
    local = IssuerPolicy(
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
        jwks_url=settings.auth_jwks_url if settings.auth_mode == "local" else None,
        refresh_interval_seconds=settings.auth_jwks_refresh_seconds,
        keys_ttl_seconds=settings.auth_jwks_ttl_seconds,
    )
    policies = [local]
    if settings.auth_mode == "entra":
        policies = [_entra_policy(settings), replace(local, token_use=API_TOKEN_USE)]
    return TokenVerifier(
        policies,
        http,
        binding_lookup=(
            BindingCache(authority.binding_of, settings.auth_binding_cache_seconds)
            if authority
            else None
        ),
        leeway_seconds=settings.auth_leeway_seconds,
        api_token_owner=authority.api_token_owner if authority else None,
    )


def _entra_policy(settings: ServiceSettings) -> IssuerPolicy:
    tenant = settings.auth_entra_tenant_id
    return IssuerPolicy(
        issuer=f"https://login.microsoftonline.com/{tenant}/v2.0",
        audience=settings.auth_audience,
        jwks_url=settings.auth_jwks_url,
        group_roles={group: ROLE_NAMES[role] for group, role in settings.auth_group_roles.items()},
        refresh_interval_seconds=settings.auth_jwks_refresh_seconds,
        keys_ttl_seconds=settings.auth_jwks_ttl_seconds,
    )
