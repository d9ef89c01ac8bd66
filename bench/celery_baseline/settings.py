"""Where the baseline finds its database and Redis: environment variables set by the bench."""

from __future__ import annotations

import os
from dataclasses import dataclass

DATABASE_URL_ENV = "BENCH_CELERY_DATABASE_URL"
REDIS_URL_ENV = "BENCH_CELERY_REDIS_URL"
REPO_URL_ENV = "BENCH_CELERY_REPO_URL"


@dataclass(frozen=True)
class BaselineSettings:
    """asyncpg database URL, redis:// URL with its DB, and the repository runs work on."""

    database_url: str
    redis_url: str
    repo_url: str

    @classmethod
    def from_env(cls) -> BaselineSettings:
        """Read the URLs; fail loudly when the bench did not set them."""
        return cls(
            os.environ[DATABASE_URL_ENV], os.environ[REDIS_URL_ENV], os.environ[REPO_URL_ENV]
        )

    def as_env(self) -> dict[str, str]:
        """The variables a baseline process needs."""
        return {
            DATABASE_URL_ENV: self.database_url,
            REDIS_URL_ENV: self.redis_url,
            REPO_URL_ENV: self.repo_url,
        }


def events_channel(run_id: str) -> str:
    """The seed's pub/sub channel of one run."""
    return f"run:{run_id}:events"
