"""What the dead-letters endpoint answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel


class DeadLetterOut(BaseModel):
    """A message that was refused or could not be delivered, and why when known."""

    id: int
    topic: str
    event_id: str
    run_id: UUID | None
    reason: str | None
    # The CloudEvent as it arrived (its data is the refused payload).
    payload: dict[str, Any]
    received_at: datetime
