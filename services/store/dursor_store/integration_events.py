"""`run-lifecycle`: a run's turn accepted, started or finished, enqueued with that change.

The same message goes to every registered webhook that wants it (`webhook_deliveries`).

Written to the outbox in the caller's unit of work like every message, so nothing is
lost; a message's id derives from the run and its event-log position, so a consumer
recognises a redelivery, and `sequence` orders one run's messages. (Pull requests
announce `pull-request-updated` from `dursor_store.pull_requests`.)
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from dursor_contracts.events import FileChange
from dursor_contracts.integrations import (
    LifecycleStage,
    RunLifecycleV1,
    WebhookEventType,
    run_links,
)
from dursor_contracts.topics import RUN_LIFECYCLE
from dursor_kit.db.unit_of_work import UnitOfWork
from dursor_store.outbox import enqueue
from dursor_store.run_rows import RunRow
from dursor_store.webhook_deliveries import fan_out

LIFECYCLE_ID_NAMESPACE = uuid5(NAMESPACE_URL, "https://dursor.cloud/run-lifecycle")


def lifecycle_event_id(run_id: UUID, sequence: int, stage: LifecycleStage) -> UUID:
    """Deterministic CloudEvent id of one lifecycle message."""
    return uuid5(LIFECYCLE_ID_NAMESPACE, f"{run_id}:{sequence}:{stage.value}")


def _usage(usage: dict[str, object]) -> dict[str, int | float]:
    """Only the numbers of an executor's usage report (tokens, cost), nothing else."""
    return {
        k: v for k, v in usage.items() if isinstance(v, int | float) and not isinstance(v, bool)
    }


def lifecycle_message(run: RunRow, stage: LifecycleStage, sequence: int) -> RunLifecycleV1:
    """The public view of a run at one moment of its turn."""
    finished = stage is LifecycleStage.FINISHED
    return RunLifecycleV1(
        run_id=run.id,
        task_id=run.task_id,
        stage=stage,
        sequence=sequence,
        turn=run.turn,
        attempt=run.attempt,
        status=run.status,
        executor=run.executor_type,
        model=run.model,
        summary=run.summary if finished else None,
        error=run.error if finished else None,
        files_changed=[FileChange.model_validate(f) for f in run.files_changed] if finished else [],
        usage=_usage(run.usage) if finished else {},
        commit_sha=run.commit_sha if finished else None,
        branch=run.branch,
        links=run_links(run.id, run.task_id),
        occurred_at=datetime.now(UTC),
    )


async def announce_run(
    work: UnitOfWork, run: RunRow, stage: LifecycleStage, sequence: int | None = None
) -> None:
    """Enqueue `run-lifecycle` (and its webhooks) for `run` as it now is, at `sequence`."""
    position = run.last_seq if sequence is None else sequence
    message = lifecycle_message(run, stage, position)
    event_id = lifecycle_event_id(run.id, position, stage)
    await enqueue(work, RUN_LIFECYCLE, message, event_id=event_id)
    await fan_out(work, WebhookEventType.of_stage(stage), str(event_id), str(run.id), message)
