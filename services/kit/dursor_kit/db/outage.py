"""Is a failure the database being away (restarting, unreachable)? Then it is a 503, not a bug.

A managed PostgreSQL restarts for maintenance: for those seconds, requests that need it
are answered 503 with Retry-After (the client tries again, nothing was decided), and
readiness says not ready. Pool pre-ping replaces the dead connections afterwards.
"""

from __future__ import annotations

import errno

import asyncpg.exceptions as pg
from sqlalchemy import exc as sa

RETRY_AFTER_SECONDS = 5
# Server states that end or refuse sessions: shutting down, starting up, crashed, full.
_SERVER_AWAY = (
    pg.PostgresConnectionError,
    pg.AdminShutdownError,
    pg.CrashShutdownError,
    pg.CannotConnectNowError,
    pg.TooManyConnectionsError,
)
_NETWORK_ERRNOS = frozenset(
    {errno.ECONNREFUSED, errno.ECONNRESET, errno.ETIMEDOUT, errno.EHOSTUNREACH, errno.EPIPE}
)


def _causes(error: BaseException) -> list[BaseException]:
    """The error, what caused it, and SQLAlchemy's wrapped driver error, without cycles."""
    seen: list[BaseException] = []
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or any(current is s for s in seen) or len(seen) > 20:
            continue
        seen.append(current)
        pending += [current.__cause__, current.__context__, getattr(current, "orig", None)]
    return seen


def _is_outage(error: BaseException) -> bool:
    if isinstance(error, sa.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, (*_SERVER_AWAY, ConnectionError, sa.TimeoutError)):
        return True
    if isinstance(error, OSError) and error.errno in _NETWORK_ERRNOS:
        return True
    # asyncpg tries every address of a host name and reports them together.
    return isinstance(error, OSError) and str(error).startswith("Multiple exceptions")


def is_database_outage(error: BaseException) -> bool:
    """True when `error` (or what caused it) says the database could not be reached."""
    return any(_is_outage(cause) for cause in _causes(error))
