"""The proxy's own keep-alive connections to its sidecar, for service invocation only.

aiohttp, not the kit's shared httpx client: `bench/proxy_clients.py` measured the
forwarding hop with httpx, a bare httpcore pool and aiohttp in one run, and aiohttp cost
a fraction of the others' CPU per request (its parser is C; httpx's request path goes
through h11 and anyio in Python). Paths are built by the kit's sidecar rules (plain
segments only), so nothing can walk out of `/v1.0/invoke/<app>/method/`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence

import aiohttp
from yarl import URL

from dursor_kit.sidecar import APP_ID, INVOKE_METHODS, UnsafeSidecarPath, method_path

Body = bytes | AsyncIterator[bytes]


class SidecarPool:
    """Invokes apps through the sidecar on 127.0.0.1 over at most `connections` connections."""

    def __init__(
        self, port: int, api_token: str | None, connections: int, timeout_seconds: float
    ) -> None:
        self._base = f"http://127.0.0.1:{port}"
        self._token = {"dapr-api-token": api_token} if api_token else {}
        self._connections = connections
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> SidecarPool:
        # Keep-alive connections stay open a minute: under load they are reused at once;
        # the sidecar is on loopback, so there is no DNS to cache and nothing to compress.
        connector = aiohttp.TCPConnector(
            limit=self._connections, limit_per_host=self._connections, keepalive_timeout=60
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=self._timeout,
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept-Encoding"),
        )
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._session is not None:
            await self._session.close()

    async def invoke(
        self,
        app_id: str,
        method: str,
        path: str,
        headers: Mapping[str, str],
        query: Sequence[tuple[str, str]],
        body: Body,
    ) -> aiohttp.ClientResponse:
        """Start `method path` on `app_id`; the caller reads and releases the response."""
        if not APP_ID.fullmatch(app_id) or method not in INVOKE_METHODS:
            raise UnsafeSidecarPath(f"cannot invoke {method[:10]!r} on app {app_id[:80]!r}")
        if self._session is None:
            raise RuntimeError("the sidecar pool is not open")
        url = URL(f"{self._base}/v1.0/invoke/{app_id}/method/{method_path(path)}", encoded=True)
        return await self._session.request(
            method,
            url,
            headers={**headers, **self._token},
            params=list(query) or None,
            data=body or None,
        )
