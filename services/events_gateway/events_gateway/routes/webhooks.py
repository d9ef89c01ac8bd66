"""GitHub webhooks: the signature is verified here, the event is applied by run-api."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Annotated

import structlog
from fastapi import APIRouter, Header, Request, Response

from dursor_contracts.problems import ProblemError, problem_responses
from dursor_contracts.secret_names import GITHUB_WEBHOOK_SECRET
from dursor_contracts.sidecar import Sidecar, SidecarError

log = structlog.get_logger(__name__)
router = APIRouter(tags=["github"])
WEBHOOK_PATH = "/v1/github/webhook"


def signature_ok(secret: bytes, body: bytes, header: str | None) -> bool:
    """GitHub's `X-Hub-Signature-256`: HMAC-SHA256 of the raw body, compared in constant time."""
    if not header or not header.startswith("sha256="):
        return False
    expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header)


async def _secret(request: Request) -> bytes:
    cached: bytes | None = getattr(request.app.state, "webhook_secret", None)
    if cached is None:
        sidecar: Sidecar = request.app.state.sidecar
        store = request.app.state.settings.secret_store
        try:
            cached = (await sidecar.get_secret(store, GITHUB_WEBHOOK_SECRET)).encode()
        except SidecarError as exc:
            raise ProblemError(
                503,
                "webhooks-unavailable",
                "Service Unavailable",
                "the webhook secret is not configured",
            ) from exc
        request.app.state.webhook_secret = cached
    return cached


@router.post(WEBHOOK_PATH, status_code=202, responses=problem_responses(400, 401, 413, 503))
async def github_webhook(
    request: Request,
    x_github_event: Annotated[str, Header(max_length=100)],
    x_github_delivery: Annotated[str, Header(max_length=100)] = "",
    x_hub_signature_256: Annotated[str | None, Header(max_length=200)] = None,
) -> Response:
    """Verify GitHub's signature, then hand the event to run-api through Dapr."""
    body = await request.body()
    if not signature_ok(await _secret(request), body, x_hub_signature_256):
        raise ProblemError(
            401, "bad-signature", "Unauthorized", "X-Hub-Signature-256 does not match the payload"
        )
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise ProblemError(400, "bad-payload", "Bad Request", "the payload is not JSON") from exc
    forwarded = json.dumps(
        {"event": x_github_event, "delivery": x_github_delivery, "payload": payload}
    ).encode()
    upstream = await request.app.state.sidecar.invoke(
        "run-api",
        "POST",
        "/internal/github/events",
        headers={"content-type": "application/json"},
        content=forwarded,
    )
    log.info(
        "github webhook",
        github_event=x_github_event,
        delivery=x_github_delivery,
        status=upstream.status_code,
    )
    return Response(
        upstream.content,
        status_code=202 if upstream.is_success else 503,
        media_type="application/json",
    )
