"""Microsoft Entra ID sign-in by device code (OAuth 2.0 device authorization grant, RFC 8628)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from dursor_cli.api import unreachable
from dursor_cli.errors import CliError, ExitCode

DEFAULT_AUTHORITY = "https://login.microsoftonline.com"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@dataclass(frozen=True)
class DeviceCodeSettings:
    """Where to sign in and for which API."""

    authority: str
    client_id: str
    scope: str


def device_code_settings(tenant: str | None, client_id: str | None) -> DeviceCodeSettings:
    """Settings from the options and environment; exit 3 when the tenant or client is missing."""
    if not tenant or not client_id:
        raise CliError(
            "--device-code needs --tenant and --client-id "
            "(or DURSOR_ENTRA_TENANT_ID and DURSOR_ENTRA_CLIENT_ID)",
            ExitCode.USAGE,
        )
    base = os.environ.get("DURSOR_ENTRA_AUTHORITY", DEFAULT_AUTHORITY).rstrip("/")
    scope = os.environ.get("DURSOR_ENTRA_SCOPE") or f"api://{client_id}/.default"
    return DeviceCodeSettings(f"{base}/{tenant}", client_id, scope)


class DeviceCodeLogin:
    """Ask for a user code, show it, poll the token endpoint until the person has signed in."""

    def __init__(self, settings: DeviceCodeSettings, show: Callable[[str], None]) -> None:
        self.settings = settings
        self.show = show

    def run(self) -> str:
        """The access token, once the person has approved the sign-in."""
        with httpx.Client(timeout=30) as client:
            grant = self._post(client, "devicecode", {"scope": self.settings.scope})
            self.show(str(grant.get("message") or _instructions(grant)))
            deadline = time.monotonic() + float(grant.get("expires_in", 900))
            interval = float(grant.get("interval", 5))
            while time.monotonic() < deadline:
                time.sleep(interval)
                answer = self._post(
                    client,
                    "token",
                    {"grant_type": DEVICE_GRANT, "device_code": grant["device_code"]},
                )
                if "access_token" in answer:
                    return str(answer["access_token"])
                interval += 5 if answer.get("error") == "slow_down" else 0
        raise CliError("the device code expired before the sign-in finished", ExitCode.AUTH)

    def _post(self, client: httpx.Client, endpoint: str, form: dict[str, str]) -> dict[str, Any]:
        url = f"{self.settings.authority}/oauth2/v2.0/{endpoint}"
        try:
            response = client.post(url, data={"client_id": self.settings.client_id, **form})
        except httpx.TransportError as exc:
            raise unreachable(self.settings.authority, exc) from exc
        body: dict[str, Any] = response.json() if response.content else {}
        error = body.get("error")
        if response.is_success or error in ("authorization_pending", "slow_down"):
            return body
        detail = body.get("error_description") or error or response.reason_phrase
        raise CliError(f"Entra ID refused the sign-in: {detail}", ExitCode.AUTH)


def _instructions(grant: dict[str, Any]) -> str:
    return f"To sign in, open {grant.get('verification_uri')} and enter {grant.get('user_code')}"
