"""Entra sign-in plumbing against a real PostgreSQL: the password hook and the logins step.

Azure's `pgaadauth_create_principal_with_oid` exists only on Azure Database for
PostgreSQL; a stand-in of it (creates a login, records the object id) is installed in a
fresh database here, the way tests/standins/ stand in for other Azure services.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from dursor_contracts.db import create_engine
from dursor_contracts.entra_logins import EntraLogin, ensure_logins
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


async def test_every_new_connection_asks_the_password_source(databases: DatabaseFactory) -> None:
    """asyncpg awaits the hook's password on each connection it opens, never a cached string."""
    asked: list[int] = []

    async def password() -> str:
        asked.append(len(asked))
        return "an-entra-token"

    engine = create_engine(await databases.fresh(), pool_size=1, password=password)
    try:
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT 1")) == 1
        assert len(asked) == 1
        await engine.dispose()
        async with engine.connect() as conn:
            await conn.scalar(text("SELECT 1"))
        assert len(asked) == 2
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
