"""Artifacts on the local disk (the default for a laptop)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from dursor_kit.artifacts.base import LOCAL_SCHEME, ArtifactNotFound


class LocalArtifactStore:
    """Artifacts as files under one directory (the default for a laptop)."""

    def __init__(self, root: Path) -> None:
        self._root = root.resolve()

    def _path(self, key: str) -> Path:
        path = (self._root / key).resolve()
        if not path.is_relative_to(self._root):
            raise ArtifactNotFound(key)
        return path

    async def put(self, key: str, data: bytes, content_type: str) -> str:
        """Write atomically so readers never see half a file."""
        path = self._path(key)
        await asyncio.to_thread(_write_atomically, path, data)
        return f"{LOCAL_SCHEME}{key}"

    def uri(self, key: str) -> str:
        """`local://<key>`."""
        return f"{LOCAL_SCHEME}{key}"

    async def get(self, uri: str) -> bytes:
        """Read a file written by `put`."""
        if not uri.startswith(LOCAL_SCHEME):
            raise ArtifactNotFound(uri)
        path = self._path(uri.removeprefix(LOCAL_SCHEME))
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError as exc:
            raise ArtifactNotFound(uri) from exc

    async def close(self) -> None:
        """Nothing to release."""


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
