"""WHERE clauses whose SQL text does not depend on how many values they are given."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import ColumnElement, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY


def one_of(column: ColumnElement[Any], values: Collection[Any]) -> ColumnElement[bool]:
    """`column = ANY(:values)`: one array parameter, so one statement for every count.

    `column.in_(values)` renders one placeholder per value, and each count is a statement
    of its own: a prepared statement on every pooled connection (asyncpg's cache) and
    its plan kept by every PostgreSQL backend, for each count a batch or a page had.
    """
    values_param = bindparam(None, list(values), type_=ARRAY(column.type))
    return column == any_(values_param)
