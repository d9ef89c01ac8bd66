"""Opaque keyset cursors: newest first by (created_at, id), stable under inserts."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Table, tuple_
from sqlalchemy.sql import ColumnElement

from dursor_kit.web.problems import bad_request

MAX_LIMIT = 200
DEFAULT_LIMIT = 50


@dataclass(frozen=True)
class Cursor:
    """Position after the last item of a page."""

    created_at: datetime
    id: UUID

    def encode(self) -> str:
        """The opaque string clients pass back."""
        raw = json.dumps([self.created_at.isoformat(), str(self.id)]).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """Parse a cursor, or answer 400 for one this API did not issue."""
        try:
            padded = text + "=" * (-len(text) % 4)
            created_at, ident = json.loads(base64.urlsafe_b64decode(padded))
            return cls(datetime.fromisoformat(created_at), UUID(ident))
        except (ValueError, TypeError, binascii.Error, json.JSONDecodeError) as exc:
            raise bad_request("invalid-cursor", "the cursor is not valid", "cursor") from exc


def after_cursor(table: Table, cursor: str | None) -> list[ColumnElement[bool]]:
    """WHERE clause for the page after `cursor` (empty for the first page)."""
    if cursor is None:
        return []
    position = Cursor.decode(cursor)
    return [tuple_(table.c.created_at, table.c.id) < tuple_(position.created_at, position.id)]


def newest_first(table: Table) -> list[Any]:
    """ORDER BY matching `after_cursor`."""
    return [table.c.created_at.desc(), table.c.id.desc()]


def next_cursor(rows: list[Any], limit: int) -> str | None:
    """The cursor of the next page when this one is full (rows fetched with limit + 1)."""
    if len(rows) <= limit:
        return None
    last = rows[limit - 1]
    return Cursor(last.created_at, last.id).encode()
