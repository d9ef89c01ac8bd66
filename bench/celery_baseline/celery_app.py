"""The seed's Celery application and settings (section 6, `celery_config.py`)."""

from __future__ import annotations

from typing import Any

from celery import Celery  # type: ignore[import-untyped]

from bench.celery_baseline.settings import BaselineSettings

RUN_AGENT_TASK = "dursor.tasks.run_agent"
AGENT_QUEUE = "agent"


def make_celery(settings: BaselineSettings) -> Any:
    """A Celery app with the seed's configuration, broker and result backend on our Redis."""
    app = Celery("dursor", broker=settings.redis_url, backend=settings.redis_url)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        timezone="UTC",
        enable_utc=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_time_limit=3600,
        task_soft_time_limit=3000,
        task_routes={
            RUN_AGENT_TASK: {"queue": AGENT_QUEUE},
            "dursor.tasks.poll_ci": {"queue": "polling"},
            "dursor.tasks.poll_pr": {"queue": "polling"},
        },
        # Keep the worker quiet about the broker retry default changing in Celery 6.
        broker_connection_retry_on_startup=True,
    )
    return app
