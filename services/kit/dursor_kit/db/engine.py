"""The async SQLAlchemy engine each service owns in its lifespan."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from azure.core.credentials import AccessToken
from azure.core.credentials_async import AsyncTokenCredential
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

# Scope of Microsoft Entra tokens for Azure Database for PostgreSQL.
POSTGRES_SCOPE = "https://ossrdbms-aad.database.windows.net/.default"

STATEMENT_CACHE_SIZE = 500
PasswordSource = Callable[[], Awaitable[str]]


class EntraPassword:
    """A PostgreSQL password that is a Microsoft Entra access token, renewed before expiry.

    asyncpg asks for it on every new connection; the token is reused until
    `refresh_margin_seconds` before it expires, then fetched again.
    """

    def __init__(
        self,
        credential: AsyncTokenCredential,
        refresh_margin_seconds: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._credential = credential
        self._margin = refresh_margin_seconds
        self._clock = clock
        self._token: AccessToken | None = None
        self._lock = asyncio.Lock()

    async def __call__(self) -> str:
        async with self._lock:
            if self._token is None or self._token.expires_on - self._margin <= self._clock():
                self._token = await self._credential.get_token(POSTGRES_SCOPE)
            return self._token.token

    async def close(self) -> None:
        """Release the credential's transport."""
        await self._credential.close()


def managed_identity_password(client_id: str | None) -> EntraPassword:
    """Entra tokens of the workload's managed identity (Container Apps, Azure VMs)."""
    from azure.identity.aio import ManagedIdentityCredential

    return EntraPassword(ManagedIdentityCredential(client_id=client_id))


def create_engine(
    url: str, pool_size: int = 10, password: PasswordSource | None = None
) -> AsyncEngine:
    """An asyncpg engine with a bounded pool that survives database restarts.

    With `password`, every new connection signs in with what it returns (an Entra token)
    instead of a password in the URL.
    """
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
        # Each connection keeps its prepared statements (asyncpg), so a hot statement is
        # parsed once per connection, not on every call. SQLAlchemy keeps 100 by default;
        # a service's routes and loops run many distinct statements (an IN list of
        # each length is one of its own), and an evicted one costs a round trip again.
        connect_args={"prepared_statement_cache_size": STATEMENT_CACHE_SIZE},
    )
    if password is not None:
        sign_in_with(engine, password)
    return engine


def sign_in_with(engine: AsyncEngine, password: PasswordSource) -> None:
    """Give each new connection of `engine` the current value of `password`."""

    @event.listens_for(engine.sync_engine, "do_connect")
    def _fresh_password(
        dialect: Any, record: Any, cargs: tuple[Any, ...], cparams: dict[str, Any]
    ) -> None:
        # asyncpg awaits a callable password when it opens the connection.
        cparams["password"] = password
