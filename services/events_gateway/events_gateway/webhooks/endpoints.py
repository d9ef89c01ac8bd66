"""GitHub webhooks: verified and deduplicated here, the event is applied by run-api."""

from __future__ import annotations

import json
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Header, Request, Response

from dursor_kit.errors import ProblemError
from dursor_kit.sidecar import SidecarError
from dursor_kit.web.problems import problem_responses
from events_gateway.webhooks.service import Deliveries, WebhookSecret, unavailable

log = structlog.get_logger(__name__)
router = APIRouter(tags=["github"])
WEBHOOK_PATH = "/v1/github/webhook"
DUPLICATE: dict[int | str, dict[str, Any]] = {
    200: {"description": "A delivery seen before: nothing was done again"}
}


@router.post(
    WEBHOOK_PATH,
    status_code=202,
    responses=DUPLICATE | problem_responses(400, 401, 413, 422, 503),
)
async def github_webhook(
    request: Request,
    x_github_event: Annotated[str, Header(max_length=100)],
    x_github_delivery: Annotated[str, Header(min_length=1, max_length=100)],
    x_hub_signature_256: Annotated[str | None, Header(max_length=200)] = None,
) -> Response:
    """Verify GitHub's signature, drop replays, then hand the event to run-api through Dapr."""
    body = await request.body()
    secret: WebhookSecret = request.app.state.webhook_secret
    if not await secret.verify(body, x_hub_signature_256):
        raise ProblemError(
            401, "bad-signature", "Unauthorized", "X-Hub-Signature-256 does not match the payload"
        )
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise ProblemError(400, "bad-payload", "Bad Request", "the payload is not JSON") from exc
    deliveries: Deliveries = request.app.state.deliveries
    if not await deliveries.claim(x_github_delivery):
        log.info("github webhook replayed", delivery=x_github_delivery)
        return Response(b'{"outcome": "duplicate"}', media_type="application/json")
    forwarded = json.dumps(
        {"event": x_github_event, "delivery": x_github_delivery, "payload": payload}
    ).encode()
    try:
        upstream = await request.app.state.sidecar.invoke(
            "run-api",
            "POST",
            "/internal/github/events",
            headers={"content-type": "application/json"},
            content=forwarded,
        )
    except SidecarError as exc:
        await deliveries.release(x_github_delivery)
        raise unavailable("run-api cannot be reached") from exc
    log.info(
        "github webhook",
        github_event=x_github_event,
        delivery=x_github_delivery,
        status=upstream.status_code,
    )
    if not upstream.is_success:
        await deliveries.release(x_github_delivery)
    return _relayed(upstream.status_code, upstream.content)


def _relayed(status: int, content: bytes) -> Response:
    """run-api's answer: 202 when applied, its 4xx for a payload it refuses, else 503."""
    if status < 300:
        return Response(content, status_code=202, media_type="application/json")
    if status < 500:
        return Response(content, status_code=status, media_type="application/problem+json")
    return Response(content, status_code=503, media_type="application/problem+json")
