"""Only traffic through our Azure Front Door: its profile id must be on every request.

Front Door adds `X-Azure-FDID: <profile id>` to what it forwards; a request without it
(or with another profile's id) came around the Front Door and its WAF, so it is refused.
Health probes come from the platform, and the sidecar's own routes (subscriptions,
deliveries) from the sidecar, which proves itself with the app API token instead.
"""

from __future__ import annotations

import hmac

from starlette.types import ASGIApp, Receive, Scope, Send

from dursor_contracts.problems import Problem
from dursor_kit.web.problems import problem_response

FRONT_DOOR_HEADER = b"x-azure-fdid"
EXEMPT_PATHS = frozenset({"/healthz", "/readyz"})
# The gateway's routes only its sidecar calls (subscriptions, deliveries): they answer to
# the app API token alone, whatever the Front Door header says.
SIDECAR_PREFIXES = ("/dapr/",)


class FrontDoorOnly:
    """403 for requests that do not carry this Front Door profile's id."""

    def __init__(self, app: ASGIApp, front_door_id: str) -> None:
        self.app = app
        self.front_door_id = front_door_id.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._exempt(scope["path"]):
            await self.app(scope, receive, send)
            return
        presented = dict(scope["headers"]).get(FRONT_DOOR_HEADER, b"")
        if hmac.compare_digest(presented, self.front_door_id):
            await self.app(scope, receive, send)
            return
        problem = Problem(
            type="https://dursor.cloud/problems/not-through-front-door",
            title="Forbidden",
            status=403,
            detail="requests reach this gateway only through its Front Door",
        )
        await problem_response(problem)(scope, receive, send)

    @staticmethod
    def _exempt(path: str) -> bool:
        return path in EXEMPT_PATHS or path.startswith(SIDECAR_PREFIXES)
