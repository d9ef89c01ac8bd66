"""Re-seal every model-profile key that is not under the ring's primary key.

Rotation: add a new key to the ring document, make it `primary`, let run-api pick it up
(it re-reads the ring every `DURSOR_KEYRING_REFRESH_SECONDS`, or restart it), then run

    uv run python -m run_api.rotate_keys            # ring from the Dapr secret store
    uv run python -m run_api.rotate_keys --keyring-file ring.json
    DURSOR_ENCRYPTION_KEYS="$(cat ring.json)" uv run python -m run_api.rotate_keys

and remove the old key from the ring once the report shows no row under it. The ring
comes from `--keyring-file`, else `DURSOR_ENCRYPTION_KEYS`, else the secret
`encryption-keys` through the sidecar on `DAPR_HTTP_PORT`; the database from
`DURSOR_DATABASE_URL`, else the secret store. Exit status 1 if a row could not be opened.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
from cryptography.exceptions import InvalidTag
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dursor_kit.crypto import EncryptionKeyRing, Sealed, UnknownKey
from dursor_kit.db.engine import create_engine
from dursor_kit.secret_names import ENCRYPTION_KEYS
from dursor_kit.secret_names import database_url as database_url_secret
from dursor_kit.sidecar import Sidecar
from run_api.model_profiles import repository as sql
from run_api.model_profiles.repository import SealedKeyRow
from run_api.model_profiles.service import sealing_context
from run_api.settings import RunApiSettings

RING_ENV = "DURSOR_ENCRYPTION_KEYS"


@dataclass
class RotationReport:
    """What a rotation did: rows moved to the primary key, rows it could not open."""

    primary: str
    resealed: int = 0
    changed_meanwhile: int = 0
    unreadable: list[str] = field(default_factory=list)
    rows_by_key: dict[str, int] = field(default_factory=dict)


async def reseal_all(
    engine: AsyncEngine, ring: EncryptionKeyRing, batch_size: int = 100, dry_run: bool = False
) -> RotationReport:
    """Move every row to the primary key, one committed batch at a time."""
    report = RotationReport(ring.primary)
    after = None
    while True:
        async with engine.begin() as conn:
            rows = await sql.sealed_not_under(conn, ring.primary, after, batch_size)
            for row in rows:
                await _reseal(conn, ring, row, report, dry_run)
        if len(rows) < batch_size:
            break
        after = rows[-1].id
    async with engine.connect() as conn:
        report.rows_by_key = await sql.count_by_key(conn)
    return report


async def _reseal(
    conn: AsyncConnection,
    ring: EncryptionKeyRing,
    row: SealedKeyRow,
    report: RotationReport,
    dry_run: bool,
) -> None:
    old = Sealed(row.key_id, row.key_nonce, row.key_ciphertext)
    try:
        new = ring.reseal(old, sealing_context(row.id))
    except (UnknownKey, InvalidTag):
        report.unreadable.append(str(row.id))
        return
    if new is None or dry_run:
        return
    if await sql.replace_sealed(conn, row.id, row.key_id, new):
        report.resealed += 1
    else:  # another rotation moved it first
        report.changed_meanwhile += 1


async def _secret(settings: RunApiSettings, name: str) -> str:
    token = settings.dapr_api_token.get_secret_value() if settings.dapr_api_token else None
    async with httpx.AsyncClient(timeout=10.0) as http:
        sidecar = Sidecar(http, settings.dapr_http_port, token)
        return await sidecar.get_secret(settings.secret_store, name)


async def load_ring(settings: RunApiSettings, keyring_file: Path | None) -> EncryptionKeyRing:
    """The ring from the file, the environment or the secret store, in that order."""
    if keyring_file is not None:
        return EncryptionKeyRing.from_json(await asyncio.to_thread(keyring_file.read_text))
    if document := os.environ.get(RING_ENV):
        return EncryptionKeyRing.from_json(document)
    return EncryptionKeyRing.from_json(await _secret(settings, ENCRYPTION_KEYS))


async def database_url(settings: RunApiSettings) -> str:
    """The database URL from the settings, else run-api's own from the secret store."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    return await _secret(settings, database_url_secret(settings.app_id))


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m run_api.rotate_keys",
        description="Re-seal model-profile API keys under the key ring's primary key.",
    )
    parser.add_argument("--keyring-file", type=Path, help="JSON ring document to use")
    parser.add_argument("--batch-size", type=int, default=100, help="rows per transaction")
    parser.add_argument("--dry-run", action="store_true", help="only report what would move")
    return parser.parse_args(argv)


async def rotate(argv: list[str] | None = None) -> int:
    """Run the command; the exit status is 1 when some row could not be opened."""
    args = _arguments(argv)
    settings = RunApiSettings()
    ring = await load_ring(settings, args.keyring_file)
    engine = create_engine(await database_url(settings), pool_size=2)
    try:
        report = await reseal_all(engine, ring, args.batch_size, args.dry_run)
    finally:
        await engine.dispose()
    print(json.dumps(asdict(report), indent=2))
    return 1 if report.unreadable else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(rotate()))
