"""Entra logins on Azure: each service's managed identity signs in as a login of its own.

Migration 0003 creates one role per service (NOLOGIN, only that service's grants). On
Azure Database for PostgreSQL the migration job then runs this module as the server's
Microsoft Entra administrator: each identity becomes a login bound to its object id
(`pgaadauth_create_principal_with_oid`) and a member of its service's role. Idempotent.

    DURSOR_DATABASE_URL=postgresql+asyncpg://<admin>@<server>:5432/dursor?ssl=require \\
    DURSOR_DATABASE_AUTH=entra AZURE_CLIENT_ID=<admin client id> \\
    DURSOR_ENTRA_LOGINS='[{"role": "dursor_run_api", "login": "id-...-run-api",
                           "object_id": "<principal id>"}, ...]' \\
    python -m dursor_kit.entra_logins
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import uuid
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from dursor_kit.db.engine import create_engine, managed_identity_password

# Role names are interpolated as quoted identifiers (GRANT takes no bind parameters).
ROLE_NAME = re.compile(r"[A-Za-z0-9_-]{1,63}")


@dataclass(frozen=True)
class EntraLogin:
    """An identity's login and the service role it joins."""

    role: str
    login: str
    object_id: str

    def __post_init__(self) -> None:
        for name in (self.role, self.login):
            if not ROLE_NAME.fullmatch(name):
                raise ValueError(f"not a role name this module creates: {name!r}")
        uuid.UUID(self.object_id)


def parse_logins(document: str) -> list[EntraLogin]:
    """The logins of a JSON list of {role, login, object_id} objects."""
    entries = json.loads(document)
    if not isinstance(entries, list):
        raise ValueError("DURSOR_ENTRA_LOGINS must be a JSON list")
    return [EntraLogin(e["role"], e["login"], e["object_id"]) for e in entries]


async def ensure_logins(engine: AsyncEngine, logins: list[EntraLogin]) -> list[str]:
    """Create missing logins and grant each its role; returns the logins created."""
    created = []
    async with engine.begin() as conn:
        for entry in logins:
            exists = await conn.scalar(
                text("SELECT 1 FROM pg_roles WHERE rolname = :login"), {"login": entry.login}
            )
            if not exists:
                await conn.execute(
                    text(
                        "SELECT * FROM pgaadauth_create_principal_with_oid("
                        ":login, :oid, 'service', false, false)"
                    ),
                    {"login": entry.login, "oid": entry.object_id},
                )
                created.append(entry.login)
            await conn.execute(text(f'GRANT "{entry.role}" TO "{entry.login}"'))
    return created


async def _main() -> None:
    logins = parse_logins(os.environ["DURSOR_ENTRA_LOGINS"])
    password = managed_identity_password(os.environ.get("AZURE_CLIENT_ID"))
    engine = create_engine(os.environ["DURSOR_DATABASE_URL"], pool_size=1, password=password)
    try:
        created = await ensure_logins(engine, logins)
    finally:
        await engine.dispose()
        await password.close()
    print(json.dumps({"created": created, "granted": [e.login for e in logins]}))


if __name__ == "__main__":
    asyncio.run(_main())
