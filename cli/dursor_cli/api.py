"""The gateway's REST API through one httpx client: bearer token, problem+json errors, pages."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from dursor_cli.errors import ApiError, CliError, ExitCode

USER_AGENT = "dursor-cli/0.1"
# 429s are waited out (Retry-After) this many times before giving up.
RATE_LIMIT_RETRIES = 5
# GETs (and POSTs with an Idempotency-Key) are sent again after a dropped connection.
TRANSPORT_RETRIES = 3


class Api:
    """Calls of one command against one gateway."""

    def __init__(self, gateway: str, token: str | None, timeout: float = 30.0) -> None:
        headers = {"user-agent": USER_AGENT}
        if token:
            headers["authorization"] = f"Bearer {token}"
        self.gateway = gateway
        self.client = httpx.Client(base_url=gateway, headers=headers, timeout=timeout)

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()

    def clone(self) -> Api:
        """Another client with the same gateway and token (for a stream read on a thread)."""
        twin = Api(self.gateway, None)
        twin.client.headers.update(self.client.headers)
        return twin

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        """Send one request; a non-2xx answer raises `ApiError`, no answer a `CliError`."""
        headers = {"idempotency-key": idempotency_key} if idempotency_key else {}
        # A request that cannot change anything twice survives a dropped connection.
        retries = TRANSPORT_RETRIES if method == "GET" or idempotency_key else 0
        for _ in range(RATE_LIMIT_RETRIES):
            response = self._send(method, path, retries, json=json, params=params, headers=headers)
            if response.status_code != 429:
                break
            time.sleep(_retry_after(response))
        if response.is_error:
            raise ApiError.from_response(response)
        return response

    def _send(self, method: str, path: str, retries: int, **kwargs: Any) -> httpx.Response:
        for attempt in range(retries):
            try:
                return self.client.request(method, path, **kwargs)
            except httpx.TransportError:
                time.sleep(0.5 * 2**attempt)
        try:
            return self.client.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise unreachable(self.gateway, exc) from exc

    def get(self, path: str, **params: Any) -> Any:
        """GET a JSON document."""
        clean = {k: v for k, v in params.items() if v is not None}
        return self.request("GET", path, params=clean).json()

    def post(self, path: str, body: Any = None, idempotency_key: str | None = None) -> Any:
        """POST a JSON body; the JSON answer."""
        return self.request("POST", path, json=body, idempotency_key=idempotency_key).json()

    def items(self, path: str, limit: int | None = None, **params: Any) -> Iterator[Any]:
        """Every item of a paginated list, following `next_cursor` (at most `limit`)."""
        cursor: str | None = None
        seen = 0
        while True:
            page = self.get(path, cursor=cursor, limit=min(limit or 100, 100), **params)
            for item in page["items"]:
                if limit is not None and seen >= limit:
                    return
                seen += 1
                yield item
            cursor = page.get("next_cursor")
            if not cursor:
                return


def unreachable(gateway: str, exc: Exception) -> CliError:
    """The error of a gateway that did not answer."""
    reason = str(exc) or type(exc).__name__
    return CliError(f"cannot reach the gateway at {gateway}: {reason}", ExitCode.FAILED)


def _retry_after(response: httpx.Response) -> float:
    value = response.headers.get("retry-after", "1")
    return min(float(value), 30.0) if value.replace(".", "", 1).isdigit() else 1.0
