"""Each service's database role holds only the grants its code needs, and nothing more.

The expected privileges are written out here from what each service's SQL does, apart
from the migration that grants them; the logins are the ones the test platform gives
the services (members of the roles migration 0003 creates), on a real PostgreSQL.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from dursor_kit.local_database import service_role
from dursor_kit.secret_names import APP_IDS
from tests.support.databases import DatabaseFactory

READ_VERIFIER = {"users": {"SELECT"}, "api_tokens": {"SELECT"}}
EXPECTED: dict[str, dict[str, set[str]]] = {
    "run-api": {
        "repos": {"SELECT", "INSERT"},
        "tasks": {"SELECT", "INSERT"},
        "runs": {"SELECT", "INSERT", "UPDATE"},
        "run_attempts": {"SELECT"},
        "messages": {"SELECT", "INSERT"},
        "model_profiles": {"SELECT", "INSERT", "UPDATE"},
        "pull_requests": {"SELECT", "INSERT", "UPDATE"},
        "pr_loop_triggers": {"SELECT", "INSERT", "UPDATE"},
        "idempotency_keys": {"SELECT", "INSERT", "UPDATE", "DELETE"},
        "dead_letters": {"SELECT", "INSERT"},
        "run_submissions": {"SELECT", "INSERT", "UPDATE"},
        "webhook_endpoints": {"SELECT", "INSERT", "UPDATE"},
        "webhook_deliveries": {"SELECT", "INSERT", "UPDATE"},
        "run_events": {"SELECT", "INSERT"},
        "outbox": {"SELECT", "INSERT", "UPDATE", "DELETE"},
        "turn_usage": {"SELECT"},
        "repo_environments": {"SELECT", "INSERT", "UPDATE"},
        "repo_secrets": {"SELECT", "INSERT", "UPDATE", "DELETE"},
        **READ_VERIFIER,
    },
    "agent-runner": {
        "repos": {"SELECT"},
        "tasks": {"SELECT"},
        "runs": {"SELECT", "UPDATE"},
        "run_attempts": {"SELECT", "INSERT", "UPDATE"},
        "messages": {"SELECT"},
        "model_profiles": {"SELECT"},
        "pull_requests": {"SELECT", "UPDATE"},
        "pr_loop_triggers": {"SELECT", "INSERT", "UPDATE"},
        "run_events": {"INSERT"},
        "outbox": {"SELECT", "INSERT", "UPDATE", "DELETE"},
        "turn_usage": {"SELECT", "INSERT"},
        "repo_environments": {"SELECT"},
        "repo_secrets": {"SELECT"},
        "webhook_endpoints": {"SELECT"},
        "webhook_deliveries": {"INSERT"},
    },
    "events-gateway": {
        "tasks": {"SELECT"},
        "runs": {"SELECT"},
        "run_events": {"SELECT"},
        **READ_VERIFIER,
    },
    "auth": {
        "users": {"SELECT", "INSERT", "UPDATE"},
        "api_tokens": {"SELECT", "INSERT", "UPDATE"},
    },
}
WRITES = {
    "INSERT": "INSERT INTO {table} DEFAULT VALUES",
    "UPDATE": "UPDATE {table} SET {column} = {column} WHERE false",
    "DELETE": "DELETE FROM {table} WHERE false",
    "TRUNCATE": "TRUNCATE {table}",
}


def _plain(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="module")
async def urls(databases: DatabaseFactory) -> dict[str, str]:
    """The owner's URL of a fresh database ("owner") and each service's login to it."""
    owner = await databases.fresh()
    return {"owner": owner, **databases.service_urls(owner)}


@pytest.fixture(scope="module")
async def tables(urls: dict[str, str]) -> AsyncIterator[dict[str, str]]:
    """Every table of the schema but Alembic's own, with one of its columns."""
    connection = await asyncpg.connect(_plain(urls["owner"]))
    try:
        rows = await connection.fetch(
            "SELECT table_name, min(column_name) AS col FROM information_schema.columns"
            " WHERE table_schema = 'public' AND table_name <> 'alembic_version'"
            " GROUP BY table_name"
        )
        yield {row["table_name"]: row["col"] for row in rows}
    finally:
        await connection.close()


async def as_service(urls: dict[str, str], app_id: str) -> asyncpg.Connection:
    """A connection as the service's own login."""
    return await asyncpg.connect(_plain(urls[app_id]))


def test_every_table_is_granted_on_purpose(tables: dict[str, str]) -> None:
    granted = set(itertools.chain.from_iterable(EXPECTED.values()))
    assert set(tables) == granted


@pytest.mark.parametrize("app_id", APP_IDS)
async def test_each_role_holds_exactly_its_grants(urls: dict[str, str], app_id: str) -> None:
    connection = await asyncpg.connect(_plain(urls["owner"]))
    try:
        rows = await connection.fetch(
            "SELECT table_name, privilege_type FROM information_schema.role_table_grants"
            " WHERE grantee = $1 AND table_schema = 'public'",
            service_role(app_id),
        )
    finally:
        await connection.close()
    held: dict[str, set[str]] = {}
    for row in rows:
        held.setdefault(row["table_name"], set()).add(row["privilege_type"])
    assert held == EXPECTED[app_id]


@pytest.mark.parametrize("app_id", APP_IDS)
async def test_a_service_reads_its_tables_and_writes_nothing_else(
    urls: dict[str, str], tables: dict[str, str], app_id: str
) -> None:
    connection = await as_service(urls, app_id)
    try:
        for table, granted in EXPECTED[app_id].items():
            if "SELECT" in granted:
                await connection.fetch(f"SELECT * FROM {table} LIMIT 0")  # noqa: S608
        for table, (privilege, statement) in itertools.product(sorted(tables), WRITES.items()):
            if privilege in EXPECTED[app_id].get(table, set()):
                continue
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await connection.execute(statement.format(table=table, column=tables[table]))
    finally:
        await connection.close()


@pytest.mark.parametrize("app_id", APP_IDS)
async def test_no_service_can_delete_or_empty_the_event_log(
    urls: dict[str, str], app_id: str
) -> None:
    connection = await as_service(urls, app_id)
    try:
        for statement in ("DELETE FROM run_events", "TRUNCATE run_events"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await connection.execute(statement)
    finally:
        await connection.close()


@pytest.mark.parametrize("app_id", APP_IDS)
async def test_a_service_is_no_superuser_and_changes_no_schema(
    urls: dict[str, str], app_id: str
) -> None:
    connection = await as_service(urls, app_id)
    try:
        assert await connection.fetchval("SELECT current_setting('is_superuser')") == "off"
        assert (
            await connection.fetchval(
                "SELECT rolcreaterole OR rolcreatedb OR rolbypassrls FROM pg_roles"
                " WHERE rolname = current_user"
            )
            is False
        )
        refused = (
            "COPY (SELECT 1) TO PROGRAM 'true'",
            "CREATE TABLE intruder (id int)",
            "ALTER TABLE runs DISABLE TRIGGER runs_state_machine",
            "DROP TABLE run_events",
            "CREATE ROLE intruder SUPERUSER",
        )
        for statement in refused:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await connection.execute(statement)
    finally:
        await connection.close()
