"""SQL for idempotency keys: the first response to a (principal, key), replayed on retries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from dursor_kit.db.rows import TableRow, fetch_optional
from dursor_store.schema import idempotency_keys

KEY_LOCK = 7303  # advisory-lock namespace of in-flight keys


class KeyRow(TableRow):
    """A key's stored answer (a finished request always has a status code)."""

    method: str
    path: str
    request_hash: str
    status_code: int
    response_body: bytes | None
    response_headers: dict[str, str] | None


@dataclass(frozen=True)
class StoredResponse:
    """What the first request with a key asked and answered."""

    method: str
    path: str
    request_hash: str
    status_code: int
    body: bytes
    headers: dict[str, str]


async def try_lock(conn: AsyncConnection, owner: str, key: str) -> bool:
    """Hold the key for this transaction; False while another request holds it."""
    held = await conn.scalar(
        select(func.pg_try_advisory_xact_lock(KEY_LOCK, func.hashtext(owner + "\n" + key)))
    )
    return bool(held)


async def stored(
    conn: AsyncConnection, owner: str, key: str, retention: timedelta
) -> StoredResponse | None:
    """The response stored for this key within the retention window."""
    row = await fetch_optional(
        conn,
        select(
            idempotency_keys.c.method,
            idempotency_keys.c.path,
            idempotency_keys.c.request_hash,
            idempotency_keys.c.status_code,
            idempotency_keys.c.response_body,
            idempotency_keys.c.response_headers,
        ).where(
            idempotency_keys.c.owner == owner,
            idempotency_keys.c.key == key,
            idempotency_keys.c.status_code.is_not(None),
            idempotency_keys.c.created_at > func.now() - retention,
        ),
        KeyRow,
    )
    if row is None:
        return None
    return StoredResponse(
        row.method,
        row.path,
        row.request_hash,
        row.status_code,
        row.response_body or b"",
        dict(row.response_headers or {}),
    )


async def save(conn: AsyncConnection, owner: str, key: str, response: StoredResponse) -> None:
    """Store the response (replacing an expired one under the same key)."""
    values = {
        "method": response.method,
        "path": response.path,
        "request_hash": response.request_hash,
        "status_code": response.status_code,
        "response_body": response.body,
        "response_headers": response.headers,
        "created_at": func.now(),
    }
    statement = insert(idempotency_keys).values(owner=owner, key=key, **values)
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=[idempotency_keys.c.owner, idempotency_keys.c.key], set_=values
        )
    )


async def purge(conn: AsyncConnection, retention: timedelta) -> int:
    """Forget keys older than the retention window; returns how many."""
    result = await conn.execute(
        idempotency_keys.delete().where(idempotency_keys.c.created_at < func.now() - retention)
    )
    return int(result.rowcount or 0)
