"""Fresh, migrated databases for tests: Alembic once into a template, then cheap copies.

Services log in as their own roles: the session creates one login per service role
(members of the roles migration 0003 grants to), with a random password, and drops them
at the end; another test session on the same server has its own.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from dursor_kit.local_database import new_password, service_role
from dursor_kit.secret_names import APP_IDS
from tests.support.backing import database_url_for

ROOT = Path(__file__).resolve().parents[2]


def _plain_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class DatabaseFactory:
    """Creates one template database per test session and copies of it per platform."""

    def __init__(self, server_url: str) -> None:
        self._server_url = server_url
        self._template = f"dursor_tpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self._created: list[str] = []
        suffix = uuid.uuid4().hex[:8]
        self._logins = {app: (f"{service_role(app)}_t{suffix}", new_password()) for app in APP_IDS}

    async def _execute(self, sql: str) -> None:
        connection = await asyncpg.connect(_plain_dsn(self._server_url))
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    async def prepare_template(self) -> None:
        """Create the template and migrate it with Alembic (the real migrations)."""
        await self._execute(f'CREATE DATABASE "{self._template}"')
        env = {
            **os.environ,
            "DURSOR_DATABASE_URL": database_url_for(self._server_url, self._template),
        }
        await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "alembic", "upgrade", "head"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        for app, (login, password) in self._logins.items():
            await self._execute(
                f"CREATE ROLE {login} LOGIN PASSWORD '{password}' IN ROLE {service_role(app)}"
            )

    def service_urls(self, url: str) -> dict[str, str]:
        """Each service's connection string to the database of `url`, as its own login."""
        plain = make_url(url).set(password=None)
        return {
            app: plain.set(username=login, password=password).render_as_string(hide_password=False)
            for app, (login, password) in self._logins.items()
        }

    async def fresh(self) -> str:
        """A new database with the migrated schema; returns its URL."""
        name = f"dursor_t_{uuid.uuid4().hex[:12]}"
        await self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{self._template}"')
        self._created.append(name)
        return database_url_for(self._server_url, name)

    async def drop_all(self) -> None:
        """Remove every database this factory made."""
        for name in [*self._created, self._template]:
            await self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._created.clear()
        for login, _ in self._logins.values():
            await self._execute(f"DROP ROLE IF EXISTS {login}")
