"""Fixtures shared by every test: real Postgres and Redis, fresh databases, whole platforms."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
import redis
from hypothesis import HealthCheck, settings
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tests.support.backing import Backing, backing_services
from tests.support.databases import DatabaseFactory
from tests.support.leak_scan import platform_secrets, scan_folder
from tests.support.platform import Platform
from tests.support.workers import worker_share

# Redis logical databases 1-15 go to platforms; 0 stays the developer's. Each pytest-xdist
# worker cycles through its own share (a reused DB is flushed for its next platform).
_redis_dbs = itertools.cycle(worker_share(range(1, 16)))

PlatformFactory = Callable[..., Awaitable[Platform]]


# Property tests check what a function returns, not how fast: on a shared two-core CI
# machine one example can stall for hundreds of milliseconds, which is no finding.
settings.register_profile("suite", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("suite")


@pytest.fixture(scope="session")
def backing() -> Iterator[Backing]:
    """The session's database server and Redis."""
    with backing_services() as services:
        yield services


@pytest.fixture(scope="session")
async def databases(backing: Backing) -> AsyncIterator[DatabaseFactory]:
    """Makes migrated databases; drops them at the end of the session."""
    factory = DatabaseFactory(backing.database_url)
    await factory.prepare_template()
    yield factory
    await factory.drop_all()


@pytest.fixture
async def engine(databases: DatabaseFactory) -> AsyncIterator[AsyncEngine]:
    """An engine on a fresh, migrated database of its own."""
    db_engine = create_async_engine(await databases.fresh())
    yield db_engine
    await db_engine.dispose()


def redis_client(backing: Backing, db: int) -> redis.Redis:
    """A client of one logical database of the tests' Redis."""
    host, _, port = backing.redis_host.rpartition(":")
    return redis.Redis(host=host, port=int(port), db=db, password=backing.redis_password or None)


@contextlib.asynccontextmanager
async def running_platform(
    backing: Backing,
    databases: DatabaseFactory,
    workdir: Path,
    env: dict[str, str],
    start: bool = True,
    redis_host: str | None = None,
    redis_password: str | None = None,
) -> AsyncIterator[Platform]:
    """A platform on its own database and Redis DB (or a Redis of its own), stopped at exit."""
    if redis_host is None:
        redis_db = next(_redis_dbs)
        redis_client(backing, redis_db).flushdb()
        redis_host, redis_password = backing.redis_host, backing.redis_password
    else:
        redis_db = 0
    url = await databases.fresh()
    platform = Platform(
        workdir,
        url,
        redis_host,
        redis_db,
        redis_password or "",
        env,
        service_database_urls=databases.service_urls(url),
    )
    try:
        if start:
            await platform.start_all()
        yield platform
    finally:
        platform.stop_all()
    # Only after a clean exit: a failure inside the platform's tests keeps its own error.
    leaks = scan_folder(workdir / "logs", platform_secrets(platform.secrets))
    assert not leaks, "credentials in logs or spans:\n" + "\n".join(map(str, leaks[:40]))


@pytest.fixture(scope="module")
async def platform(
    backing: Backing, databases: DatabaseFactory, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Platform]:
    """One replica of each service, shared by the tests of a module."""
    async with running_platform(backing, databases, tmp_path_factory.mktemp("platform"), {}) as p:
        yield p


@pytest.fixture
async def make_platform(
    backing: Backing, databases: DatabaseFactory, tmp_path: Path
) -> AsyncIterator[PlatformFactory]:
    """Start platforms of a test's own (custom settings, replicas to kill)."""
    async with contextlib.AsyncExitStack() as stack:
        count = itertools.count()

        async def make(
            env: dict[str, str] | None = None,
            start: bool = True,
            redis_host: str | None = None,
            redis_password: str | None = None,
        ) -> Platform:
            workdir = tmp_path / f"platform-{next(count)}"
            workdir.mkdir()
            return await stack.enter_async_context(
                running_platform(
                    backing, databases, workdir, env or {}, start, redis_host, redis_password
                )
            )

        yield make
