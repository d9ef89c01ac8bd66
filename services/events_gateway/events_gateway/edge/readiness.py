"""The gateway is ready only when the apps it routes to are: their `/readyz` through Dapr.

Each check is one service invocation of `GET /readyz` on run-api and auth, the same path
Dapr's name resolution, mTLS and access control take for every public request; a public
call right after the gateway turns ready therefore finds its upstream ready too.
"""

from __future__ import annotations

from dursor_kit.sidecar import Sidecar, SidecarError
from dursor_kit.web.app import ReadinessCheck

UPSTREAMS = ("run-api", "auth")
CHECK_TIMEOUT_SECONDS = 2.0


def upstream_check(sidecar: Sidecar, app_id: str) -> ReadinessCheck:
    """Ready when `app_id` answers its own `/readyz` with 200 through the sidecar."""

    async def check() -> bool:
        try:
            response = await sidecar.invoke(app_id, "GET", "/readyz", timeout=CHECK_TIMEOUT_SECONDS)
        except SidecarError:
            return False
        return response.status_code == 200

    return check


def upstream_checks(sidecar: Sidecar) -> dict[str, ReadinessCheck]:
    """One readiness check per app the gateway routes to."""
    return {app_id: upstream_check(sidecar, app_id) for app_id in UPSTREAMS}
