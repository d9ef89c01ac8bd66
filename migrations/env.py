"""Alembic environment: migrates the shared schema of `dursor_store.schema`."""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy.engine import Connection

from dursor_kit.db.engine import create_engine, managed_identity_password
from dursor_store.schema import metadata

config = context.config


def _database_url() -> str:
    url = os.environ.get("DURSOR_DATABASE_URL") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("set DURSOR_DATABASE_URL to migrate")
    return url


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


async def _run_online() -> None:
    # In Azure the migration job signs in with its managed identity's Entra token.
    entra = os.environ.get("DURSOR_DATABASE_AUTH") == "entra"
    password = managed_identity_password(os.environ.get("AZURE_CLIENT_ID")) if entra else None
    engine = create_engine(_database_url(), pool_size=1, password=password)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()
        if password is not None:
            await password.close()


if context.is_offline_mode():
    context.configure(url=_database_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_online())
