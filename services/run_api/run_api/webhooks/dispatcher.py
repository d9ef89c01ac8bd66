"""Sends due webhook deliveries, signed the Standard Webhooks way, retried with backoff.

Each round takes the due deliveries that head their (endpoint, run) line, sends them
concurrently while their rows stay locked, and records each outcome in the same
transaction: delivered on a 2xx, otherwise due again after a growing delay, dead after
the last try. The target's host is resolved and every address checked before each
try; the request then goes to a checked address (host name kept for TLS and `Host`),
never through a proxy and never following a redirect.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from standardwebhooks.webhooks import Webhook

from dursor_kit.crypto import Sealed
from dursor_kit.webhook_targets import (
    RefusedTarget,
    Resolver,
    TargetPolicy,
    checked_addresses,
    parse_target,
)
from dursor_store import webhook_deliveries as deliveries
from dursor_store.webhook_deliveries import DueDelivery
from run_api.keyring import KeyRingSource
from run_api.webhooks.service import sealing_context

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """How many tries a delivery gets and how long it waits between them."""

    max_attempts: int
    base_seconds: float
    max_seconds: float

    def retry_in(self, attempts_before: int) -> timedelta | None:
        """The wait after a failed try, or None when that was the last one."""
        if attempts_before + 1 >= self.max_attempts:
            return None
        return timedelta(seconds=min(self.max_seconds, self.base_seconds * 2**attempts_before))


@dataclass(frozen=True)
class Outcome:
    """What one try got: a status code (None if none came back) and an error if it failed."""

    status_code: int | None
    error: str | None


def signed_headers(secret: str, message_id: str, body: str) -> dict[str, str]:
    """The Standard Webhooks headers of one delivery."""
    now = datetime.now(UTC)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, now, body),
        "content-type": "application/json",
    }


class WebhookDispatcher:
    """Delivers the webhooks' outbox until cancelled."""

    def __init__(
        self,
        engine: AsyncEngine,
        keyring: KeyRingSource,
        policy: TargetPolicy,
        resolver: Resolver,
        retries: RetryPolicy,
        timeout_seconds: float,
        batch_size: int = 20,
    ) -> None:
        self._engine = engine
        self._keyring = keyring
        self._policy = policy
        self._resolver = resolver
        self._retries = retries
        self._batch_size = batch_size
        # No proxy (it would resolve the name itself), no redirects (a way around the check).
        self._http = httpx.AsyncClient(
            timeout=timeout_seconds, follow_redirects=False, trust_env=False
        )

    async def run(self, poll_seconds: float) -> None:
        """Deliver until cancelled; sleep between rounds that found nothing."""
        try:
            while True:
                try:
                    sent = await self.deliver_once()
                except Exception:  # the loop must outlive any one failure (DB restarts)
                    log.exception("webhook round failed")
                    sent = 0
                if sent == 0:
                    await asyncio.sleep(poll_seconds)
        finally:
            with contextlib.suppress(Exception):
                await self._http.aclose()

    async def deliver_once(self) -> int:
        """One round; how many deliveries were tried."""
        async with self._engine.begin() as conn:
            due = await deliveries.take_due(conn, self._batch_size)
            outcomes = await asyncio.gather(*(self._try(d) for d in due))
            for delivery, outcome in zip(due, outcomes, strict=True):
                await self._record(conn, delivery, outcome)
        return len(due)

    async def _record(self, conn: AsyncConnection, delivery: DueDelivery, outcome: Outcome) -> None:
        if outcome.error is None and outcome.status_code is not None:
            await deliveries.record_delivered(conn, delivery.id, outcome.status_code)
            return
        retry_in = self._retries.retry_in(delivery.attempts)
        await deliveries.record_failed(
            conn, delivery, outcome.status_code, outcome.error or "the delivery failed", retry_in
        )
        log.warning(
            "webhook delivery failed",
            delivery_id=delivery.id,
            status_code=outcome.status_code,
            error=outcome.error,
            dead=retry_in is None,
        )

    async def _try(self, delivery: DueDelivery) -> Outcome:
        try:
            target = parse_target(delivery.url, self._policy)
            addresses = await checked_addresses(target, self._policy, self._resolver)
        except RefusedTarget as exc:
            return Outcome(None, f"refused target: {exc}")
        body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True)
        headers = signed_headers(await self._secret(delivery), delivery.message_id, body)
        default_port = 443 if target.scheme == "https" else 80
        headers["host"] = (
            target.host if target.port == default_port else f"{target.host}:{target.port}"
        )
        try:
            response = await self._http.post(
                target.url_at(addresses[0]),
                content=body.encode(),
                headers=headers,
                extensions={"sni_hostname": target.host} if target.scheme == "https" else {},
            )
        except httpx.HTTPError as exc:
            return Outcome(None, f"{type(exc).__name__}: {exc}"[:300])
        if response.is_success:
            return Outcome(response.status_code, None)
        return Outcome(response.status_code, f"the endpoint answered {response.status_code}")

    async def _secret(self, delivery: DueDelivery) -> str:
        ring = await self._keyring.current()
        sealed = Sealed(delivery.secret_key_id, delivery.secret_nonce, delivery.secret_ciphertext)
        return ring.open(sealed, sealing_context(delivery.endpoint_id))
