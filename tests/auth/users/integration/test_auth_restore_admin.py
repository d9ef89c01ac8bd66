"""Break glass: `python -m auth_service.restore_admin` on a database with no enabled Admin."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from dursor_store.schema import users

ISSUER = "http://127.0.0.1:8083"


async def _add_user(engine: AsyncEngine, username: str, role: str, disabled: bool = False) -> None:
    user_id = uuid.uuid4()
    async with engine.begin() as conn:
        await conn.execute(
            insert(users).values(
                id=user_id,
                issuer=ISSUER,
                subject=str(user_id),
                username=username,
                display_name=username,
                role=role,
                role_pinned=True,
                disabled=disabled,
            )
        )


async def _restore(engine: AsyncEngine, *args: str) -> subprocess.CompletedProcess[str]:
    url = engine.url.render_as_string(hide_password=False)
    env = os.environ | {"DURSOR_DATABASE_URL": url, "DURSOR_AUTH_ISSUER": ISSUER}
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "auth_service.restore_admin", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def _roles(engine: AsyncEngine) -> dict[str, tuple[str, bool]]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(users.c.username, users.c.role, users.c.disabled))
    return {name: (role, disabled) for name, role, disabled in rows}


async def test_a_database_without_an_admin_gets_its_admin_back(engine: AsyncEngine) -> None:
    await _add_user(engine, "admin", "viewer")
    await _add_user(engine, "ada", "developer")
    await _add_user(engine, "old-admin", "admin", disabled=True)  # disabled: not an Admin

    restored = await _restore(engine)

    assert restored.returncode == 0, restored.stderr
    assert "admin is an enabled Admin again" in restored.stdout
    assert await _roles(engine) == {
        "admin": ("admin", False),
        "ada": ("developer", False),
        "old-admin": ("admin", True),
    }


async def test_a_disabled_only_admin_is_enabled_again(engine: AsyncEngine) -> None:
    await _add_user(engine, "admin", "admin", disabled=True)

    restored = await _restore(engine)

    assert restored.returncode == 0, restored.stderr
    assert await _roles(engine) == {"admin": ("admin", False)}


async def test_nothing_changes_while_an_enabled_admin_exists(engine: AsyncEngine) -> None:
    await _add_user(engine, "admin", "viewer")
    await _add_user(engine, "ada", "admin")

    refused = await _restore(engine)

    assert refused.returncode == 1
    assert "an enabled Admin exists: nothing changed" in refused.stderr
    assert await _roles(engine) == {"admin": ("viewer", False), "ada": ("admin", False)}


async def test_an_unknown_user_changes_nothing(engine: AsyncEngine) -> None:
    await _add_user(engine, "admin", "viewer")

    refused = await _restore(engine, "--username", "nobody")

    assert refused.returncode == 2
    assert "no local user 'nobody'" in refused.stderr
    assert await _roles(engine) == {"admin": ("viewer", False)}
