"""Rows as typed values: repositories return these, never SQLAlchemy's untyped `Row`."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Executable
from sqlalchemy.ext.asyncio import AsyncConnection


class TableRow(BaseModel):
    """A row (or a join's row) as an immutable value whose columns mypy checks."""

    model_config = ConfigDict(frozen=True, from_attributes=True)


RowT = TypeVar("RowT", bound=TableRow)


async def fetch_one(conn: AsyncConnection, statement: Executable, shape: type[RowT]) -> RowT:
    """The single row a statement returns, as `shape`."""
    row = (await conn.execute(statement)).one()
    return shape.model_validate(row._mapping)


async def fetch_optional(
    conn: AsyncConnection, statement: Executable, shape: type[RowT]
) -> RowT | None:
    """The row a statement returns, if any, as `shape`."""
    row = (await conn.execute(statement)).one_or_none()
    return None if row is None else shape.model_validate(row._mapping)


async def fetch_all(conn: AsyncConnection, statement: Executable, shape: type[RowT]) -> list[RowT]:
    """Every row a statement returns, as `shape`."""
    return [shape.model_validate(row._mapping) for row in await conn.execute(statement)]
