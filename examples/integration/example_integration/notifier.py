"""The notifier: every finished run becomes one chat message with its outcome and summary."""

from __future__ import annotations

import logging
from typing import Any

import httpx

log = logging.getLogger(__name__)


def chat_message(event_id: str, run: dict[str, Any]) -> dict[str, Any]:
    """The chat post for one finished run (Slack-style `text`, plus the facts)."""
    summary = run.get("summary") or run.get("error") or "no summary"
    files = len(run.get("files_changed") or [])
    return {
        "text": f"dursor run {run['run_id']} {run['status']}: {summary} ({files} files changed)",
        "event_id": event_id,
        "run_id": run["run_id"],
        "stage": run["stage"],
        "status": run["status"],
        "sequence": run["sequence"],
        "link": run["links"]["run"],
    }


async def notify(client: httpx.AsyncClient, url: str | None, event: dict[str, Any]) -> bool:
    """Post a finished run's summary to the chat; False when the chat did not take it."""
    run = event.get("data") or {}
    if run.get("stage") != "finished":
        return True
    message = chat_message(str(event.get("id")), run)
    if url is None:
        log.info("%s", message["text"])
        return True
    try:
        response = await client.post(url, json=message)
    except httpx.HTTPError as exc:
        log.warning("chat webhook unreachable: %s", exc)
        return False
    return response.is_success
