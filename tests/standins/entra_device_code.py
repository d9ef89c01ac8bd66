"""A stand-in for Microsoft Entra ID's device-code sign-in (RFC 8628 endpoints, v2.0 paths).

It hands out one user code and answers `authorization_pending` (then `slow_down` once)
until the "person" has approved after a few polls; the access token it returns is the
one the test gives it, so the platform under test can verify it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
USER_CODE = "DURS-0RCL"


@dataclass
class EntraDeviceCode:
    """State of the stand-in: the token to issue and the requests it saw."""

    tenant: str
    client_id: str
    access_token: str
    approve_after_polls: int = 3
    polls: int = 0
    scopes: list[str] = field(default_factory=list)

    def app(self) -> Starlette:
        """The two endpoints a device-code client calls."""
        base = f"/{self.tenant}/oauth2/v2.0"
        return Starlette(
            routes=[
                Route(f"{base}/devicecode", self.device_code, methods=["POST"]),
                Route(f"{base}/token", self.token, methods=["POST"]),
            ]
        )

    async def device_code(self, request: Request) -> JSONResponse:
        """A device code and the message Entra shows people."""
        form = await _form(request)
        if form.get("client_id") != self.client_id:
            return JSONResponse({"error": "unauthorized_client"}, status_code=400)
        self.scopes.append(str(form.get("scope")))
        return JSONResponse(
            {
                "device_code": "device-code-1",
                "user_code": USER_CODE,
                "verification_uri": "https://microsoft.com/devicelogin",
                "expires_in": 900,
                "interval": 1,
                "message": "To sign in, use a web browser to open the page https://microsoft"
                f".com/devicelogin and enter the code {USER_CODE} to authenticate.",
            }
        )

    async def token(self, request: Request) -> JSONResponse:
        """Pending until enough polls, then the access token."""
        form = await _form(request)
        if form.get("grant_type") != DEVICE_GRANT or form.get("device_code") != "device-code-1":
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        self.polls += 1
        if self.polls < self.approve_after_polls:
            error = "slow_down" if self.polls == 2 else "authorization_pending"
            return JSONResponse({"error": error}, status_code=400)
        return JSONResponse(
            {"access_token": self.access_token, "token_type": "Bearer", "expires_in": 3600}
        )


async def _form(request: Request) -> dict[str, str]:
    """An application/x-www-form-urlencoded body."""
    return dict(parse_qsl((await request.body()).decode()))
