"""CloudEvents in and out of Dapr pub/sub, and the answers a subscriber gives."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, ValidationError

from dursor_contracts.events import ContractModel
from dursor_contracts.topics import Topic

ModelT = TypeVar("ModelT", bound=ContractModel)


class Delivery(StrEnum):
    """What a subscriber tells Dapr about one message."""

    SUCCESS = "SUCCESS"
    # Dapr retries by the resiliency policy, then moves it to the dead-letter topic.
    RETRY = "RETRY"
    DROP = "DROP"


def answer(delivery: Delivery) -> dict[str, str]:
    """The JSON body Dapr expects from a subscription route."""
    return {"status": delivery.value}


class ReceivedEvent(BaseModel):
    """The CloudEvent envelope Dapr delivers to a subscription route."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: str
    type: str = ""
    source: str = ""
    topic: str = ""
    data: Any = None
    traceparent: str | None = None


def build_cloudevent(
    topic: Topic, event_id: UUID, source: str, data: ContractModel
) -> dict[str, Any]:
    """A CloudEvents 1.0 envelope; Dapr keeps our id, consumers deduplicate on it."""
    return {
        "specversion": "1.0",
        "id": str(event_id),
        "source": source,
        "type": topic.cloudevent_type,
        "datacontenttype": "application/json",
        "time": datetime.now(UTC).isoformat(),
        "data": data.model_dump(mode="json"),
    }


def parse_payload(event: ReceivedEvent, model: type[ModelT]) -> ModelT | None:
    """The validated payload, or None when it does not match the contract."""
    try:
        return model.model_validate(event.data)
    except ValidationError:
        return None
