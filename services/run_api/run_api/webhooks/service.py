"""Registering webhook endpoints: a target that may receive, a secret sealed at rest.

The URL is checked when it is registered (scheme, and every address its host resolves to
now) and again at every delivery (the dispatcher), since DNS answers change.
"""

from __future__ import annotations

import base64
import secrets
from uuid import UUID, uuid4

import structlog

from dursor_kit.auth.verifier import Principal
from dursor_kit.db.unit_of_work import UnitOfWork
from dursor_kit.errors import Invalid, NotFound
from dursor_kit.webhook_targets import (
    RefusedTarget,
    Resolver,
    TargetPolicy,
    checked_addresses,
    parse_target,
)
from run_api.keyring import KeyRingSource
from run_api.webhooks import repository as sql
from run_api.webhooks.repository import EndpointRow
from run_api.webhooks.schemas import SECRET_PREFIX, WebhookCreate

log = structlog.get_logger(__name__)


def sealing_context(endpoint_id: UUID) -> bytes:
    """The associated data an endpoint's secret is sealed with (its row id)."""
    return f"webhook:{endpoint_id}".encode()


def new_secret() -> str:
    """A Standard Webhooks secret: whsec_ + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


class Webhooks:
    """Registers and removes endpoints."""

    def __init__(self, keyring: KeyRingSource, policy: TargetPolicy, resolver: Resolver) -> None:
        self._keyring = keyring
        self._policy = policy
        self._resolver = resolver

    async def register(
        self, work: UnitOfWork, principal: Principal, body: WebhookCreate
    ) -> tuple[EndpointRow, str]:
        """Check the target, seal the secret, store the endpoint; the row and its secret."""
        try:
            target = parse_target(body.url, self._policy)
            await checked_addresses(target, self._policy, self._resolver)
        except RefusedTarget as exc:
            raise Invalid(str(exc), code="webhook-target-refused", field="url") from exc
        secret = body.secret.get_secret_value() if body.secret else new_secret()
        endpoint_id = uuid4()
        ring = await self._keyring.current()
        sealed = ring.seal(secret, sealing_context(endpoint_id))
        event_types = sorted({e.value for e in body.event_types})
        row = await sql.insert_endpoint(
            work.conn, endpoint_id, body.url, event_types, sealed, principal.owner_key
        )
        log.info("webhook registered", webhook_id=str(endpoint_id), event_types=event_types)
        return row, secret

    async def remove(self, work: UnitOfWork, endpoint_id: UUID) -> None:
        """Stop delivering to an endpoint."""
        if not await sql.soft_delete(work.conn, endpoint_id):
            raise NotFound("webhook", endpoint_id)
