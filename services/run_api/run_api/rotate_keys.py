"""Re-seal every value the key ring seals that is not under its primary key.

The ring seals model API keys (`model_profiles`), repository secrets (`repo_secrets`) and
webhook signing secrets (`webhook_endpoints`); each table is resealed in turn.

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
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from cryptography.exceptions import InvalidTag
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dursor_contracts.environment import secret_context
from dursor_kit.crypto import EncryptionKeyRing, Sealed, UnknownKey
from dursor_kit.db.engine import create_engine
from dursor_kit.secret_names import ENCRYPTION_KEYS
from dursor_kit.secret_names import database_url as database_url_secret
from dursor_kit.sidecar import Sidecar
from run_api.model_profiles import repository as profiles_sql
from run_api.model_profiles.service import sealing_context as profile_context
from run_api.secrets import repository as secrets_sql
from run_api.settings import RunApiSettings
from run_api.webhooks import repository as webhooks_sql
from run_api.webhooks.service import sealing_context as endpoint_context

RING_ENV = "DURSOR_ENCRYPTION_KEYS"


@dataclass(frozen=True)
class Resealable:
    """One sealed value: the columns that name its row, its seal, the data it is bound to."""

    key: tuple[Any, ...]
    sealed: Sealed
    context: bytes

    @property
    def ref(self) -> str:
        """The row's name in the report."""
        return "/".join(map(str, self.key))


@dataclass(frozen=True)
class SealedKind:
    """A table of sealed values, paged after a row's key, each swapped by compare-and-set.

    `replace` is the owning repository's, called with the row's key columns, the key id it
    expects and the new seal.
    """

    name: str
    page: Callable[[AsyncConnection, str, tuple[Any, ...] | None, int], Awaitable[list[Resealable]]]
    replace: Callable[..., Awaitable[bool]]
    count_by_key: Callable[[AsyncConnection], Awaitable[dict[str, int]]]


async def _profile_page(
    conn: AsyncConnection, primary: str, after: tuple[Any, ...] | None, limit: int
) -> list[Resealable]:
    rows = await profiles_sql.sealed_not_under(conn, primary, after[0] if after else None, limit)
    return [
        Resealable((r.id,), Sealed(r.key_id, r.key_nonce, r.key_ciphertext), profile_context(r.id))
        for r in rows
    ]


async def _secret_page(
    conn: AsyncConnection, primary: str, after: tuple[Any, ...] | None, limit: int
) -> list[Resealable]:
    rows = await secrets_sql.sealed_not_under(conn, primary, after, limit)
    return [
        Resealable(
            (r.repo_id, r.name),
            Sealed(r.key_id, r.key_nonce, r.key_ciphertext),
            secret_context(r.repo_id, r.name),
        )
        for r in rows
    ]


async def _endpoint_page(
    conn: AsyncConnection, primary: str, after: tuple[Any, ...] | None, limit: int
) -> list[Resealable]:
    rows = await webhooks_sql.sealed_not_under(conn, primary, after[0] if after else None, limit)
    return [
        Resealable(
            (r.id,),
            Sealed(r.secret_key_id, r.secret_nonce, r.secret_ciphertext),
            endpoint_context(r.id),
        )
        for r in rows
    ]


# Everything the ring seals: model API keys, repository secrets, webhook signing secrets.
KINDS = (
    SealedKind(
        "model_profiles", _profile_page, profiles_sql.replace_sealed, profiles_sql.count_by_key
    ),
    SealedKind("repo_secrets", _secret_page, secrets_sql.replace_sealed, secrets_sql.count_by_key),
    SealedKind(
        "webhook_endpoints", _endpoint_page, webhooks_sql.replace_sealed, webhooks_sql.count_by_key
    ),
)


@dataclass
class KindReport:
    """What a rotation did to one table."""

    resealed: int = 0
    changed_meanwhile: int = 0
    unreadable: list[str] = field(default_factory=list)
    rows_by_key: dict[str, int] = field(default_factory=dict)


@dataclass
class RotationReport:
    """What a rotation did: rows moved to the primary key, rows it could not open.

    The totals cover every table the ring seals; `tables` has each one's own figures.
    """

    primary: str
    resealed: int = 0
    changed_meanwhile: int = 0
    unreadable: list[str] = field(default_factory=list)
    rows_by_key: dict[str, int] = field(default_factory=dict)
    tables: dict[str, KindReport] = field(default_factory=dict)

    def add(self, name: str, kind: KindReport) -> None:
        """Count one table's figures in the totals."""
        self.tables[name] = kind
        self.resealed += kind.resealed
        self.changed_meanwhile += kind.changed_meanwhile
        self.unreadable += [f"{name}:{ref}" for ref in kind.unreadable]
        for key_id, rows in kind.rows_by_key.items():
            self.rows_by_key[key_id] = self.rows_by_key.get(key_id, 0) + rows


async def reseal_all(
    engine: AsyncEngine, ring: EncryptionKeyRing, batch_size: int = 100, dry_run: bool = False
) -> RotationReport:
    """Move every sealed value of every table to the primary key."""
    report = RotationReport(ring.primary)
    for kind in KINDS:
        report.add(kind.name, await _reseal_kind(engine, ring, kind, batch_size, dry_run))
    return report


async def _reseal_kind(
    engine: AsyncEngine, ring: EncryptionKeyRing, kind: SealedKind, batch_size: int, dry_run: bool
) -> KindReport:
    """One table's rows moved to the primary key, one committed batch at a time."""
    report = KindReport()
    after: tuple[Any, ...] | None = None
    while True:
        async with engine.begin() as conn:
            items = await kind.page(conn, ring.primary, after, batch_size)
            for item in items:
                await _reseal(conn, ring, kind, item, report, dry_run)
        if len(items) < batch_size:
            break
        after = items[-1].key
    async with engine.connect() as conn:
        report.rows_by_key = await kind.count_by_key(conn)
    return report


async def _reseal(
    conn: AsyncConnection,
    ring: EncryptionKeyRing,
    kind: SealedKind,
    item: Resealable,
    report: KindReport,
    dry_run: bool,
) -> None:
    try:
        new = ring.reseal(item.sealed, item.context)
    except (UnknownKey, InvalidTag):
        report.unreadable.append(item.ref)
        return
    if new is None or dry_run:
        return
    if await kind.replace(conn, *item.key, item.sealed.key_id, new):
        report.resealed += 1
    else:  # another rotation (or a write of a new value) moved it first
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
        description="Re-seal every value the key ring seals under its primary key.",
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
