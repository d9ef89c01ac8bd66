"""Credentials of a laptop's PostgreSQL: the owner's password and a login per service.

The schema owner (the bootstrap's `dursor`) runs migrations; each service logs in as its
own role (`dursor_run_api`, ... created by migration 0003 with only that service's
grants) with a password from the local secret store. The server takes passwords only
(scram-sha-256): `require-passwords` moves a data directory initialised with `trust`
there, so laptops set up before keep working. Tools that connect as the owner find its
password in the libpq password file (`PGPASSFILE`), as psql does.

    python -m dursor_kit.local_database owner-password <secrets.json>
    python -m dursor_kit.local_database require-passwords <secrets.json> <pgdata>
    python -m dursor_kit.local_database enable-logins <secrets.json>
"""

from __future__ import annotations

import asyncio
import re
import secrets
import sys
from pathlib import Path

import asyncpg
from sqlalchemy.engine import URL, make_url

from dursor_kit.secret_file import read_secrets, write_private
from dursor_kit.secret_names import APP_IDS, POSTGRES_URL, database_url

# Characters of secrets.token_urlsafe: safe inside a SQL literal and a pgpass line.
PASSWORD = re.compile(r"[A-Za-z0-9_-]{16,}")
TRUST = re.compile(r"^(\s*(?:local|host\w*)\s.*\s)trust(\s*(?:#.*)?)$", re.MULTILINE)


def service_role(app_id: str) -> str:
    """The database role of a service: `run-api` -> `dursor_run_api`."""
    return "dursor_" + app_id.replace("-", "_")


def new_password() -> str:
    """A random password of URL-safe characters."""
    return secrets.token_urlsafe(24)


def _password_in(url: str | None) -> str | None:
    return make_url(url).password if url else None


def _render(url: URL) -> str:
    return url.render_as_string(hide_password=False)


def pgpass_password(pgpass: str | None, url: URL) -> str | None:
    """The password a libpq password file holds for the URL's server and user."""
    if not pgpass or not Path(pgpass).exists():
        return None
    for line in Path(pgpass).read_text().splitlines():
        fields = line.split(":")
        if len(fields) == 5 and _matches(fields, url):
            return fields[4]
    return None


def _matches(fields: list[str], url: URL) -> bool:
    wanted = [url.host or "localhost", str(url.port or 5432), url.database or "", url.username]
    return all(have in ("*", want) for have, want in zip(fields[:4], wanted, strict=True))


def remember_owner_password(pgpass: str, url: URL, password: str) -> None:
    """Keep the owner's password in the password file (one line per server and user)."""
    path = Path(pgpass)
    prefix = f"{url.host}:{url.port or 5432}:*:{url.username}:"
    kept = [
        line
        for line in (path.read_text().splitlines() if path.exists() else [])
        if not line.startswith(prefix)
    ]
    write_private(path, "\n".join([*kept, prefix + password]) + "\n")


def database_secrets(owner_url: str, current: dict[str, str], pgpass: str | None) -> dict[str, str]:
    """The owner's and every service's connection strings; passwords chosen once, kept."""
    owner = make_url(owner_url)
    password = (
        owner.password
        or pgpass_password(pgpass, owner)
        or _password_in(current.get(POSTGRES_URL))
        or new_password()
    )
    if pgpass and not owner.password:
        remember_owner_password(pgpass, owner, str(password))
    found = {POSTGRES_URL: _render(owner.set(password=password))}
    for app in APP_IDS:
        known = _password_in(current.get(database_url(app)))
        login = owner.set(username=service_role(app), password=known or new_password())
        found[database_url(app)] = _render(login)
    return found


def _plain(url: str) -> str:
    return _render(make_url(url).set(drivername="postgresql"))


def _literal(password: str) -> str:
    if not PASSWORD.fullmatch(password):
        raise ValueError("a generated password has unexpected characters")
    return f"'{password}'"


async def _execute(owner_url: str, statements: list[str]) -> None:
    connection = await asyncpg.connect(_plain(owner_url))
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


def require_passwords(stored: dict[str, str], pgdata: Path) -> bool:
    """Give the owner its password and turn `trust` into scram-sha-256; True if changed."""
    hba = pgdata / "pg_hba.conf"
    text = hba.read_text()
    if not TRUST.search(text):
        return False
    owner_url = stored[POSTGRES_URL]
    password = _literal(str(_password_in(owner_url)))
    # The maintenance database: the application's may not exist yet.
    maintenance = _render(make_url(owner_url).set(database="postgres"))
    asyncio.run(_execute(maintenance, [f"ALTER ROLE CURRENT_USER WITH PASSWORD {password}"]))
    hba.write_text(TRUST.sub(r"\1scram-sha-256\2", text))
    return True


def enable_logins(stored: dict[str, str]) -> None:
    """Let each service's role log in with the password of its connection string."""
    statements = []
    for app in APP_IDS:
        password = _literal(str(_password_in(stored[database_url(app)])))
        statements.append(f"ALTER ROLE {service_role(app)} WITH LOGIN PASSWORD {password}")
    asyncio.run(_execute(stored[POSTGRES_URL], statements))


def main(argv: list[str]) -> None:
    """The bootstrap's steps (see the module docstring)."""
    command, stored = argv[0], read_secrets(Path(argv[1]))
    if command == "owner-password":
        sys.stdout.write(str(_password_in(stored[POSTGRES_URL])))
    elif command == "require-passwords":
        if require_passwords(stored, Path(argv[2])):
            sys.stderr.write("PostgreSQL now requires passwords (scram-sha-256)\n")
    elif command == "enable-logins":
        enable_logins(stored)
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
