"""`one_of` on real PostgreSQL: the rows `IN` finds, and one prepared statement for every count."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from uuid import UUID, uuid4

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    MetaData,
    Table,
    func,
    insert,
    select,
    text,
)
from sqlalchemy import Uuid as SqlUuid
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dursor_kit.db.clauses import one_of

things = Table(
    "things",
    MetaData(),
    Column("id", BigInteger, primary_key=True),
    Column("key", SqlUuid(as_uuid=True), nullable=False),
    prefixes=["TEMPORARY"],
)
KEYS = [uuid4() for _ in range(40)]


async def _with_things(conn: AsyncConnection) -> None:
    await conn.run_sync(things.metadata.create_all)
    await conn.execute(insert(things), [{"id": i, "key": k} for i, k in enumerate(KEYS)])


async def _prepared(conn: AsyncConnection) -> int:
    counted = await conn.execute(text("select count(*) from pg_prepared_statements"))
    return int(counted.scalar_one())


async def test_one_of_finds_what_in_finds_for_numbers_keys_and_nothing(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await _with_things(conn)
        for ids in ([], [3], [0, 5, 39, 1000]):
            wanted = select(things.c.id).order_by(things.c.id)
            by_in = (await conn.scalars(wanted.where(things.c.id.in_(ids)))).all()
            by_one_of = (await conn.scalars(wanted.where(one_of(things.c.id, ids)))).all()
            assert by_one_of == by_in
        keys: list[UUID] = [KEYS[7], KEYS[8], uuid4()]
        found = await conn.scalars(select(things.c.id).where(one_of(things.c.key, keys)))
        assert sorted(found) == [7, 8]


async def test_one_statement_serves_every_count_where_in_prepares_one_per_count(
    engine: AsyncEngine,
) -> None:
    async with engine.begin() as conn:
        await _with_things(conn)
        counted = select(func.count()).select_from(things)
        forms: dict[str, Callable[[range], ColumnElement[bool]]] = {
            "in": things.c.id.in_,
            "one_of": partial(one_of, things.c.id),
        }
        new_statements = {}
        for name, clause in forms.items():
            # A count of one first: the statement itself, and asyncpg's one-off look-up of
            # an array type's codec (its own statements) on its first use.
            await conn.scalar(counted.where(clause(range(1))))
            before = await _prepared(conn)
            for n in range(2, 21):
                assert await conn.scalar(counted.where(clause(range(n)))) == n
            new_statements[name] = await _prepared(conn) - before

    assert new_statements == {"in": 19, "one_of": 0}
