"""What the example integration reads from its environment."""

from __future__ import annotations

import os
from dataclasses import dataclass

PUBSUB = "integrations"
RUN_LIFECYCLE = "run-lifecycle"
RUN_SUBMISSIONS = "run-submissions"


@dataclass(frozen=True)
class Settings:
    """The chat webhook to notify, the identity submissions act as, the sidecar's token."""

    chat_webhook_url: str | None
    service_identity: str
    # The token this app's sidecar presents on every delivery (Dapr's APP_API_TOKEN).
    app_api_token: str | None

    @classmethod
    def from_env(cls) -> Settings:
        """Read the settings from the process environment."""
        return cls(
            chat_webhook_url=os.environ.get("CHAT_WEBHOOK_URL") or None,
            service_identity=os.environ.get("DURSOR_SERVICE_IDENTITY", "ticket-bridge"),
            app_api_token=os.environ.get("APP_API_TOKEN") or None,
        )
