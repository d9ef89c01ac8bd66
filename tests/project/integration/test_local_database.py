"""The bootstrap's PostgreSQL takes passwords only, including a laptop's older `trust` one.

Runs the bootstrap's own step (`scripts/local-database.sh`) on a data directory set up
the way earlier bootstraps did (`initdb --auth=trust`, server running), on a port and
data directory of its own.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from dursor_kit.secret_names import POSTGRES_URL, database_url
from tests.support.backing import free_port

ROOT = Path(__file__).resolve().parents[3]
PG_BIN = next(Path("/usr/lib/postgresql").glob("*/bin"), None)
AS_POSTGRES = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def dsn(url: str, password: str | None) -> str:
    """The URL's server, database and user for asyncpg, with `password` (or none)."""
    parsed = make_url(url)
    user = f"{parsed.username}:{password}" if password else str(parsed.username)
    return f"postgresql://{user}@{parsed.host}:{parsed.port}/{parsed.database}"


def as_stored(url: str) -> str:
    """The URL for asyncpg with the password it carries."""
    return dsn(url, make_url(url).password)


@pytest.fixture
def laptop(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A `.data/` whose PostgreSQL was initialised with trust and runs, as before."""
    assert PG_BIN is not None, "PostgreSQL server binaries are missing"
    # Outside pytest's private tmp_path: the server's own user must reach it.
    data, port = Path(tempfile.mkdtemp(prefix="dursor-laptop-")), free_port()
    pgdata = data / "postgres"
    pgdata.mkdir()
    if os.geteuid() == 0:
        shutil.chown(data, "postgres")
        shutil.chown(pgdata, "postgres")
    pgdata.chmod(0o700)
    subprocess.run(
        [*AS_POSTGRES, str(PG_BIN / "initdb"), "-D", str(pgdata), "-U", "dursor", "--auth=trust"],
        check=True,
        capture_output=True,
    )
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {pgdata} -c fsync=off"
    pg_ctl = [*AS_POSTGRES, str(PG_BIN / "pg_ctl"), "-D", str(pgdata)]
    log = ["-l", str(pgdata / "server.log")]
    # The server's output goes to its log: a captured pipe would stay open while it runs.
    subprocess.run([*pg_ctl, *log, "-w", "start", "-o", options], check=True, timeout=60)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DURSOR_", "PG"))}
    env |= {
        "DURSOR_DATA": str(data),
        "DURSOR_PG_PORT": str(port),
        "DURSOR_SECRETS_FILE": str(data / "secrets.json"),
        "PGPASSFILE": str(tmp_path / "pgpass"),
    }
    try:
        yield env
    finally:
        subprocess.run([*pg_ctl, "-m", "immediate", "stop"], check=False, timeout=60)
        shutil.rmtree(data, ignore_errors=True)


def bootstrap_database(env: dict[str, str]) -> dict[str, str]:
    """Run the bootstrap's database step; the secrets it wrote."""
    result = subprocess.run(
        ["bash", "scripts/local-database.sh"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    stored: dict[str, str] = json.loads(Path(env["DURSOR_SECRETS_FILE"]).read_text())
    return stored


async def test_a_trust_server_is_moved_to_passwords_and_refuses_none(
    laptop: dict[str, str],
) -> None:
    stored = bootstrap_database(laptop)
    owner = make_url(stored[POSTGRES_URL])
    assert owner.username == "dursor"
    assert owner.port == int(laptop["DURSOR_PG_PORT"])
    without_password = dsn(stored[POSTGRES_URL], None)
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(without_password, passfile="/nonexistent/pgpass")
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(dsn(stored[POSTGRES_URL], "wrong"))
    pg_hba = (Path(laptop["DURSOR_DATA"]) / "postgres" / "pg_hba.conf").read_text()
    assert "scram-sha-256" in pg_hba

    # The owner's password is where tools look for it, and each service logs in as itself.
    owner_connection = await asyncpg.connect(without_password, passfile=laptop["PGPASSFILE"])
    await owner_connection.close()
    run_api = await asyncpg.connect(as_stored(stored[database_url("run-api")]))
    try:
        assert await run_api.fetchval("SELECT current_user") == "dursor_run_api"
        assert await run_api.fetchval("SELECT count(*) FROM runs") == 0
    finally:
        await run_api.close()

    # Idempotent: a second bootstrap keeps every password and the server keeps taking them.
    assert bootstrap_database(laptop) == stored
    gateway = await asyncpg.connect(as_stored(stored[database_url("events-gateway")]))
    await gateway.close()
