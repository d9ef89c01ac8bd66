"""The Dapr sidecar's HTTP API, through one shared httpx client.

The Python SDK clients block in their constructor waiting for the sidecar and the
sync invoke breaks inside a running loop, so services talk to daprd over plain HTTP.
Every name or path put into a sidecar URL (app id, method path, store, key, topic) must
be made of plain segments: a `..` or an encoded slash would walk out of the operation
into the sidecar's own API (secrets, publish, shutdown), and httpx resolves dot segments.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

CLOUDEVENT_MEDIA_TYPE = "application/cloudevents+json"
# One path segment: letters, digits and `-._~`, not starting with a dot (no `.`, `..`).
PLAIN_SEGMENT = re.compile(r"[A-Za-z0-9_~-][A-Za-z0-9._~-]*")
APP_ID = re.compile(r"[a-z0-9][a-z0-9-]*")
STABLE_BULK_PATH = "/v1.0/publish/bulk"  # Dapr >= 1.17
ALPHA_BULK_PATH = "/v1.0-alpha1/publish/bulk"
INVOKE_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"})


class SidecarError(Exception):
    """The sidecar answered with an error or could not be reached."""


class UnsafeSidecarPath(ValueError):
    """A name or path that is not plain was about to go into a sidecar URL (a bug upstream)."""


def plain_segment(value: str, what: str) -> str:
    """`value` as one URL segment, if it is a plain name; else `UnsafeSidecarPath`."""
    if not PLAIN_SEGMENT.fullmatch(value):
        raise UnsafeSidecarPath(f"{what} {value[:80]!r} is not a plain name")
    # A no-op for a plain name; it keeps the URL from ever re-reading the value as syntax.
    return quote(value, safe="")


def method_path(path: str) -> str:
    """An invoked method's path, segment by segment checked and encoded."""
    segments = path.removeprefix("/").split("/")
    return "/".join(plain_segment(segment, "method path segment") for segment in segments)


@dataclass(frozen=True)
class StateItem:
    """A value of the state store with the ETag that guards its next write."""

    value: Any
    etag: str | None


@dataclass(frozen=True)
class BulkEntry:
    """One CloudEvent of a bulk publish."""

    entry_id: str
    cloudevent: Mapping[str, Any]


class Sidecar:
    """Typed access to the daprd of this app on 127.0.0.1."""

    def __init__(self, http: httpx.AsyncClient, port: int, api_token: str | None = None) -> None:
        self._http = http
        self.base_url = f"http://127.0.0.1:{port}"
        self._headers = {"dapr-api-token": api_token} if api_token else {}
        self._bulk_path = STABLE_BULK_PATH

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**self._headers, **kwargs.pop("headers", {})}
        try:
            return await self._http.request(
                method, f"{self.base_url}{path}", headers=headers, **kwargs
            )
        except httpx.HTTPError as exc:
            raise SidecarError(f"sidecar unreachable: {exc!r}") from exc

    async def is_ready(self) -> bool:
        """True once the sidecar's components are initialised."""
        try:
            response = await self._request("GET", "/v1.0/healthz/outbound", timeout=2.0)
        except SidecarError:
            return False
        return response.status_code == 204

    async def wait_ready(self, timeout: float) -> None:
        """Wait until the sidecar is ready, or fail after `timeout` seconds."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not await self.is_ready():
            if asyncio.get_running_loop().time() > deadline:
                raise SidecarError(f"sidecar at {self.base_url} not ready after {timeout}s")
            await asyncio.sleep(0.2)

    async def publish(
        self, pubsub: str, topic: str, cloudevent: Mapping[str, Any], traceparent: str | None
    ) -> None:
        """Publish one CloudEvent; Dapr keeps its `id`, which consumers deduplicate on."""
        headers = {"content-type": CLOUDEVENT_MEDIA_TYPE}
        if traceparent:
            headers["traceparent"] = traceparent
        response = await self._request(
            "POST",
            f"/v1.0/publish/{plain_segment(pubsub, 'pubsub')}/{plain_segment(topic, 'topic')}",
            content=json.dumps(cloudevent),
            headers=headers,
        )
        if response.status_code != 204:
            raise SidecarError(f"publish {topic}: {response.status_code} {response.text}")

    async def publish_bulk(self, pubsub: str, topic: str, entries: Sequence[BulkEntry]) -> set[str]:
        """Publish several CloudEvents in one call; returns the entry ids that failed.

        daprd publishes a bulk request's entries concurrently: their order on the topic is
        not the request's (publish one run's events one by one where order matters).
        """
        body = json.dumps(
            [
                {"entryId": e.entry_id, "event": e.cloudevent, "contentType": CLOUDEVENT_MEDIA_TYPE}
                for e in entries
            ]
        )
        target = f"{plain_segment(pubsub, 'pubsub')}/{plain_segment(topic, 'topic')}"
        headers = {"content-type": "application/json"}
        response = await self._request(
            "POST", f"{self._bulk_path}/{target}", content=body, headers=headers
        )
        if response.status_code == 404 and self._bulk_path == STABLE_BULK_PATH:
            # A sidecar older than Dapr 1.17 serves bulk publishing only as alpha.
            self._bulk_path = ALPHA_BULK_PATH
            response = await self._request(
                "POST", f"{self._bulk_path}/{target}", content=body, headers=headers
            )
        if response.status_code == 204:
            return set()
        if response.status_code == 500 and "failedEntries" in response.text:
            return {f["entryId"] for f in response.json().get("failedEntries", [])}
        raise SidecarError(f"bulk publish {topic}: {response.status_code} {response.text}")

    @property
    def bulk_publish_path(self) -> str:
        """The bulk-publish route this sidecar is called on (stable, or alpha after a 404)."""
        return self._bulk_path

    async def invoke(
        self,
        app_id: str,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Sequence[tuple[str, str]] | None = None,
        content: bytes | None = None,
        timeout: float = 30.0,
    ) -> httpx.Response:
        """Call `path` (plain segments only) on another app through Dapr service invocation."""
        if not APP_ID.fullmatch(app_id) or method not in INVOKE_METHODS:
            raise UnsafeSidecarPath(f"cannot invoke {method[:10]!r} on app {app_id[:80]!r}")
        return await self._request(
            method,
            f"/v1.0/invoke/{app_id}/method/{method_path(path)}",
            headers=dict(headers or {}),
            params=list(params or []),
            content=content,
            timeout=timeout,
        )

    async def get_secret(self, store: str, key: str) -> str:
        """One secret of the secret store (Key Vault in Azure, a local file here)."""
        response = await self._request(
            "GET", f"/v1.0/secrets/{plain_segment(store, 'store')}/{plain_segment(key, 'secret')}"
        )
        if response.status_code != 200:
            raise SidecarError(f"secret {key}: {response.status_code} {response.text}")
        value: str = response.json()[key]
        return value

    async def get_state(self, store: str, key: str) -> StateItem | None:
        """A state-store value with its ETag, or None."""
        response = await self._request(
            "GET", f"/v1.0/state/{plain_segment(store, 'store')}/{plain_segment(key, 'key')}"
        )
        if response.status_code == 204:
            return None
        if response.status_code != 200:
            raise SidecarError(f"state {key}: {response.status_code} {response.text}")
        return StateItem(response.json(), response.headers.get("etag"))

    async def save_state(
        self,
        store: str,
        key: str,
        value: Any,
        *,
        etag: str | None = None,
        ttl_seconds: int | None = None,
    ) -> bool:
        """Write a value; with an ETag, False when someone else wrote first."""
        plain_segment(key, "key")
        item: dict[str, Any] = {"key": key, "value": value}
        if etag is not None:
            item["etag"] = etag
            item["options"] = {"concurrency": "first-write"}
        if ttl_seconds is not None:
            item["metadata"] = {"ttlInSeconds": str(ttl_seconds)}
        response = await self._request(
            "POST", f"/v1.0/state/{plain_segment(store, 'store')}", json=[item]
        )
        if response.status_code == 409:
            return False
        if response.status_code != 204:
            raise SidecarError(f"save state {key}: {response.status_code} {response.text}")
        return True

    async def claim_state(self, store: str, key: str, value: Any, ttl_seconds: int) -> bool:
        """Write `key` only if it does not exist yet; False when it already did (first write)."""
        item = {
            "key": key,
            "value": value,
            "options": {"concurrency": "first-write"},
            "metadata": {"ttlInSeconds": str(ttl_seconds)},
        }
        response = await self._request("POST", f"/v1.0/state/{store}", json=[item])
        if response.status_code == 204:
            return True
        # Stores answer an existing key differently (409, or 500 naming the key): look.
        if await self.get_state(store, key) is not None:
            return False
        raise SidecarError(f"claim state {key}: {response.status_code} {response.text}")

    async def delete_state(self, store: str, key: str) -> None:
        """Remove a value (a no-op when it is absent)."""
        response = await self._request("DELETE", f"/v1.0/state/{store}/{key}")
        if response.status_code not in (200, 204):
            raise SidecarError(f"delete state {key}: {response.status_code} {response.text}")

    async def metadata(self) -> dict[str, Any]:
        """The sidecar's metadata: components, subscriptions, app id."""
        response = await self._request("GET", "/v1.0/metadata")
        result: dict[str, Any] = response.json()
        return result
