"""Entra tokens as PostgreSQL passwords: fetched for the right scope, reused, renewed early."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from azure.core.credentials_async import AsyncTokenCredential

from dursor_kit.db.engine import POSTGRES_SCOPE, EntraPassword
from dursor_kit.entra_logins import parse_logins

TOKEN_LIFETIME = 3600


class LocalTokenProvider:
    """Implements azure-core's AsyncTokenCredential protocol with numbered tokens."""

    def __init__(self, clock: list[float]) -> None:
        self.clock = clock
        self.requests: list[tuple[str, ...]] = []
        self.closed = False

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.requests.append(scopes)
        await asyncio.sleep(0)  # a real credential awaits the identity endpoint
        now = int(self.clock[0])
        return AccessToken(f"token-{len(self.requests)}", now + TOKEN_LIFETIME)

    async def close(self) -> None:
        self.closed = True

    async def __aenter__(self) -> LocalTokenProvider:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


@pytest.fixture
def clock() -> list[float]:
    return [1_000_000.0]


@pytest.fixture
def provider(clock: list[float]) -> LocalTokenProvider:
    found = LocalTokenProvider(clock)
    assert isinstance(found, AsyncTokenCredential)
    return found


def password_of(provider: LocalTokenProvider, clock: list[float]) -> EntraPassword:
    return EntraPassword(provider, refresh_margin_seconds=300, clock=lambda: clock[0])


async def test_asks_for_the_postgres_scope(
    provider: LocalTokenProvider, clock: list[float]
) -> None:
    """The token is one Azure Database for PostgreSQL accepts."""
    assert await password_of(provider, clock)() == "token-1"
    assert provider.requests == [(POSTGRES_SCOPE,)]
    assert POSTGRES_SCOPE == "https://ossrdbms-aad.database.windows.net/.default"


async def test_reuses_a_token_until_the_margin_before_expiry(
    provider: LocalTokenProvider, clock: list[float]
) -> None:
    """New connections share one token while it has more than the margin left."""
    password = password_of(provider, clock)
    assert await password() == "token-1"
    clock[0] += TOKEN_LIFETIME - 301
    assert await password() == "token-1"
    clock[0] += 1
    assert await password() == "token-2"
    assert len(provider.requests) == 2


async def test_an_expired_token_is_never_handed_out(
    provider: LocalTokenProvider, clock: list[float]
) -> None:
    """Long after expiry (an idle pool) the next connection gets a fresh token."""
    password = password_of(provider, clock)
    await password()
    clock[0] += 10 * TOKEN_LIFETIME
    assert await password() == "token-2"


async def test_concurrent_connections_fetch_one_token(
    provider: LocalTokenProvider, clock: list[float]
) -> None:
    """A burst of new connections does not hammer the identity endpoint."""
    password = password_of(provider, clock)
    tokens = await asyncio.gather(*(password() for _ in range(20)))
    assert set(tokens) == {"token-1"}
    assert len(provider.requests) == 1


async def test_close_releases_the_credential(
    provider: LocalTokenProvider, clock: list[float]
) -> None:
    """The service lifespan closes the credential with the engine."""
    await password_of(provider, clock).close()
    assert provider.closed


def test_login_entries_are_validated_before_any_sql() -> None:
    """Role names become quoted identifiers, so only plain names and real object ids pass."""
    good = '[{"role": "dursor_run_api", "login": "id-dursor-prod-run-api", "object_id": "%s"}]'
    object_id = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
    (login,) = parse_logins(good % object_id)
    assert (login.role, login.login) == ("dursor_run_api", "id-dursor-prod-run-api")
    for role, name, oid in [
        ('x\\"; DROP TABLE runs; --', "id-a", object_id),
        ("dursor_auth", "a b", object_id),
        ("dursor_auth", "id-a", "not-a-uuid"),
    ]:
        entry = f'[{{"role": "{role}", "login": "{name}", "object_id": "{oid}"}}]'
        with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
            parse_logins(entry)
    with pytest.raises(ValueError, match="JSON list"):
        parse_logins("{}")
