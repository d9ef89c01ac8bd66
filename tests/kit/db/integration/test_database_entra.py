"""Entra sign-in plumbing against a real PostgreSQL: the password hook and the logins step.

Azure's `pgaadauth_create_principal_with_oid` exists only on Azure Database for
PostgreSQL; a stand-in of it (creates a login, records the object id) is installed in a
fresh database here, the way tests/standins/ stand in for other Azure services.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from dursor_kit.db.engine import create_engine
from dursor_kit.entra_logins import EntraLogin, ensure_logins
from tests.support.backing import postgres_process
from tests.support.databases import DatabaseFactory

STAND_IN = (
    "CREATE TABLE entra_principals (login text PRIMARY KEY, object_id text NOT NULL)",
    """
CREATE FUNCTION pgaadauth_create_principal_with_oid(
    login text, object_id text, principal_type text, is_admin boolean, is_mfa boolean
) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('CREATE ROLE %I LOGIN', login);
  INSERT INTO entra_principals VALUES (login, object_id);
  RETURN 'Created role for ' || login;
END
$$
""",
)


@pytest.fixture
async def azure_like(databases: DatabaseFactory) -> AsyncIterator[tuple[AsyncEngine, str]]:
    """A fresh database with the stand-in function and a service role of its own."""
    engine = create_engine(await databases.fresh(), pool_size=1)
    role = f"dursor_test_{uuid.uuid4().hex[:8]}"
    async with engine.begin() as conn:
        for statement in STAND_IN:
            await conn.execute(text(statement))
        await conn.execute(text(f'CREATE ROLE "{role}" NOLOGIN'))
    yield engine, role
    async with engine.begin() as conn:
        logins = (await conn.scalars(text("SELECT login FROM entra_principals"))).all()
        for login in logins:
            await conn.execute(text(f'DROP ROLE IF EXISTS "{login}"'))
        await conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
    await engine.dispose()


@pytest.fixture(scope="module")
def password_server() -> Iterator[str]:
    """A server of our own that checks passwords (scram), whatever the shared one does."""
    with postgres_process() as url:
        yield url


@pytest.fixture
async def token_login(password_server: str) -> AsyncIterator[tuple[str, str]]:
    """A login whose password is a token value: (its URL without password, the token)."""
    owner = create_engine(password_server, pool_size=1)
    login, token = f"entra_probe_{uuid.uuid4().hex[:8]}", f"token-{uuid.uuid4().hex}"
    async with owner.begin() as conn:
        await conn.execute(text(f"CREATE ROLE {login} LOGIN PASSWORD '{token}'"))
    url = make_url(password_server).set(username=login, password=None)
    yield url.render_as_string(hide_password=False), token
    async with owner.begin() as conn:
        await conn.execute(text(f"DROP ROLE {login}"))
    await owner.dispose()


async def test_each_new_connection_signs_in_with_the_current_token(
    token_login: tuple[str, str],
) -> None:
    """asyncpg awaits the hook's password for every connection it opens; a stale one fails."""
    url, token = token_login
    handed_out: list[str] = []
    current = [token]

    async def password() -> str:
        handed_out.append(current[0])
        return current[0]

    engine = create_engine(url, pool_size=1, password=password)
    try:
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT current_user")) == make_url(url).username
        await engine.dispose()
        current[0] = "an-expired-token"
        with pytest.raises(DBAPIError, match="password authentication failed"):
            async with engine.connect():
                pass
        assert handed_out == [token, "an-expired-token"]
    finally:
        await engine.dispose()


async def test_logins_are_created_once_and_join_their_role(
    azure_like: tuple[AsyncEngine, str],
) -> None:
    """Each identity gets a login bound to its object id and membership of its role."""
    engine, role = azure_like
    suffix = uuid.uuid4().hex[:8]
    logins = [
        EntraLogin(role, f"id-test-{suffix}-a", str(uuid.uuid4())),
        EntraLogin(role, f"id-test-{suffix}-b", str(uuid.uuid4())),
    ]
    assert await ensure_logins(engine, logins) == [entry.login for entry in logins]
    assert await ensure_logins(engine, logins) == []
    async with engine.connect() as conn:
        recorded: dict[str, str] = dict(
            (await conn.execute(text("SELECT * FROM entra_principals"))).all()
        )
        members = (
            await conn.scalars(
                text(
                    "SELECT m.rolname FROM pg_auth_members a JOIN pg_roles g ON g.oid = a.roleid "
                    "JOIN pg_roles m ON m.oid = a.member WHERE g.rolname = :role"
                ),
                {"role": role},
            )
        ).all()
    assert recorded == {entry.login: entry.object_id for entry in logins}
    assert sorted(members) == sorted(entry.login for entry in logins)
