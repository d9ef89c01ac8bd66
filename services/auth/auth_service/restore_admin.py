"""Break glass: give Admin back to the local admin user when no enabled Admin is left.

Run by an operator with the schema owner's connection string, without the services:
`uv run python -m auth_service.restore_admin [--username NAME]` (the default name is the
`DURSOR_ADMIN_USERNAME` the auth service creates at its first start). It changes nothing
while any enabled Admin exists, so it cannot be used to take over a working platform.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from enum import IntEnum

from auth_service.settings import AuthSettings
from auth_service.users.repository import grant_admin, lock_active_admins
from dursor_kit.db.engine import create_engine


class Outcome(IntEnum):
    """The command's exit code."""

    RESTORED = 0
    ADMIN_EXISTS = 1
    NO_SUCH_USER = 2


MESSAGES = {
    Outcome.RESTORED: "{username} is an enabled Admin again",
    Outcome.ADMIN_EXISTS: "an enabled Admin exists: nothing changed",
    Outcome.NO_SUCH_USER: "no local user {username!r} of issuer {issuer}: nothing changed",
}


async def restore(database_url: str, issuer: str, username: str) -> Outcome:
    """Grant Admin to `username` if, and only if, no enabled Admin is left."""
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.begin() as conn:
            if await lock_active_admins(conn):
                return Outcome.ADMIN_EXISTS
            granted = await grant_admin(conn, issuer, username)
            return Outcome.RESTORED if granted is not None else Outcome.NO_SUCH_USER
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, restore, say what happened."""
    settings = AuthSettings()
    parser = argparse.ArgumentParser(prog="python -m auth_service.restore_admin")
    parser.add_argument("--username", default=settings.admin_username)
    args = parser.parse_args(argv)
    if settings.database_url is None:
        parser.error("DURSOR_DATABASE_URL (the schema owner's connection string) is not set")
    url = settings.database_url.get_secret_value()
    outcome = asyncio.run(restore(url, settings.auth_issuer, args.username))
    message = MESSAGES[outcome].format(username=args.username, issuer=settings.auth_issuer)
    print(message, file=sys.stdout if outcome is Outcome.RESTORED else sys.stderr)
    return int(outcome)


if __name__ == "__main__":
    sys.exit(main())
