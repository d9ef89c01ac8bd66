"""Where run artifacts (patches, branch bundles) live: the port every store implements."""

from __future__ import annotations

from typing import Protocol

LOCAL_SCHEME = "local://"
AZURE_SCHEME = "azblob://"


class ArtifactNotFound(Exception):
    """No artifact is stored under that URI."""


class ArtifactStore(Protocol):
    """Stores immutable blobs under keys like `artifacts/<run-id>/patch.diff`."""

    async def put(self, key: str, data: bytes, content_type: str) -> str:
        """Store `data` and return the URI to read it back."""
        ...

    async def get(self, uri: str) -> bytes:
        """The bytes stored under `uri`."""
        ...

    def uri(self, key: str) -> str:
        """The URI `put(key, …)` returns, for reading back a key without storing its URI."""
        ...

    async def close(self) -> None:
        """Release clients."""
        ...
