"""Fresh, migrated databases for tests: Alembic once into a template, then cheap copies."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

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
