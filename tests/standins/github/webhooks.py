"""Signed webhook deliveries from the stand-in to the App's webhook URL.

Follows docs.github.com "Webhook events and payloads" (delivery headers
`X-GitHub-Event`, `X-GitHub-Delivery` (a GUID), `X-GitHub-Hook-ID`,
`X-GitHub-Hook-Installation-Target-Type/-ID`, `User-Agent: GitHub-Hookshot/...`; every
App payload carries `action`, `sender`, `repository`, `installation`) and "Validating
webhook deliveries" (`X-Hub-Signature-256: sha256=` + HMAC-SHA256 of the raw body with
the webhook secret, hex). Deliveries are queued in the order events happened and sent
one at a time in the background (the API call that caused one does not wait for it);
each is recorded with the answer it got, and can be redelivered with the same GUID
(GitHub's "Redeliver").
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from tests.standins.github.shapes import Site, repository, user
from tests.standins.github.store import node_id

Json = dict[str, Any]
HOOK_ID = 480_001
TIMEOUT_SECONDS = 10.0  # GitHub gives up on a delivery after ten seconds


@dataclass
class Delivery:
    """One webhook delivery and how the receiver answered it."""

    guid: str
    event: str
    payload: Json
    body: bytes
    headers: dict[str, str]
    status: int | None = None
    response: str = ""
    error: str | None = None

    @property
    def action(self) -> str | None:
        """The payload's `action` (None for events without one, like `status`)."""
        action = self.payload.get("action")
        return str(action) if action is not None else None


def signature_256(secret: str, body: bytes) -> str:
    """The `X-Hub-Signature-256` value of a body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookSender:
    """Builds, signs and delivers the App's webhooks; nothing is sent until configured."""

    def __init__(self, site: Site, installations: dict[str, int]) -> None:
        self._site = site
        self._installations = installations
        self.url: str | None = None
        self.secret = ""
        self.events: set[str] | None = None
        self.deliveries: list[Delivery] = []
        self._lock = asyncio.Lock()
        self._pending: set[asyncio.Task[None]] = set()

    def configure(self, url: str, secret: str, events: set[str] | None = None) -> None:
        """Deliver to `url` signed with `secret`; `events` limits the App's subscriptions."""
        self.url, self.secret, self.events = url, secret, events

    def send(self, event: str, repo: str, sender: str, body: Json) -> Delivery | None:
        """Queue one delivery of `event` (None when no URL is set or not subscribed)."""
        if self.url is None or (self.events is not None and event not in self.events):
            return None
        installation = self._installations.get(repo, 1)
        payload = body | {
            "repository": repository(self._site, repo),
            "sender": user(self._site, sender),
            "installation": {"id": installation, "node_id": node_id("MDIz", installation)},
        }
        delivery = self._signed(str(uuid.uuid4()), event, payload)
        self._schedule(delivery)
        return delivery

    def _signed(self, guid: str, event: str, payload: Json) -> Delivery:
        raw = json.dumps(payload).encode()
        headers = {
            "content-type": "application/json",
            "user-agent": "GitHub-Hookshot/standin",
            "x-github-event": event,
            "x-github-delivery": guid,
            "x-github-hook-id": str(HOOK_ID),
            "x-github-hook-installation-target-type": "integration",
            "x-github-hook-installation-target-id": str(self._site.app_id),
            "x-hub-signature": "sha1="
            + hmac.new(self.secret.encode(), raw, hashlib.sha1).hexdigest(),
            "x-hub-signature-256": signature_256(self.secret, raw),
        }
        return Delivery(guid, event, payload, raw, headers)

    async def redeliver(self, guid: str) -> Delivery:
        """Send a recorded delivery again, same GUID and body; returns the new record."""
        original = next(d for d in self.deliveries if d.guid == guid)
        again = Delivery(
            original.guid, original.event, original.payload, original.body, original.headers
        )
        self._schedule(again)
        await self.settled()
        return again

    def _schedule(self, delivery: Delivery) -> None:
        self.deliveries.append(delivery)
        task = asyncio.get_running_loop().create_task(self._deliver(delivery))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _deliver(self, delivery: Delivery) -> None:
        async with self._lock:
            assert self.url is not None
            try:
                async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as http:
                    answer = await http.post(
                        self.url, content=delivery.body, headers=delivery.headers
                    )
            except httpx.HTTPError as exc:
                delivery.error = f"{type(exc).__name__}: {exc}"
                return
            delivery.status, delivery.response = answer.status_code, answer.text

    async def settled(self) -> None:
        """Wait until every queued delivery has been answered (or failed)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def close(self) -> None:
        """Stop deliveries still under way (the stand-in is shutting down)."""
        for task in list(self._pending):
            task.cancel()
        await asyncio.gather(*list(self._pending), return_exceptions=True)

    def of(self, event: str, action: str | None = None) -> list[Delivery]:
        """Recorded deliveries of one event (and action)."""
        return [
            d
            for d in self.deliveries
            if d.event == event and (action is None or d.action == action)
        ]
