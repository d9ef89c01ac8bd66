"""An agent's HOME travels with its run, so a follow-up resumes the session on any worker.

Agent CLIs keep their sessions under HOME (e.g. ~/.claude, ~/.codex, ~/.gemini). After
each turn the home is stored as an artifact in the attempt's own folder, next to its
patch; the run's row names only the patch of the attempt that ended the turn under its
lease, so a worker that runs a later turn restores that attempt's home and never one of
an attempt that lost its lease.
"""

from __future__ import annotations

import asyncio
import io
import tarfile
from pathlib import Path

import structlog

from dursor_kit.artifacts import ArtifactNotFound, ArtifactStore

log = structlog.get_logger(__name__)

MAX_HOME_BYTES = 32 * 1024 * 1024
HOME_NAME = "agent-home.tar.gz"


def home_key(attempt_prefix: str) -> str:
    """Where an attempt's agent home is stored (in the attempt's artifact folder)."""
    return f"{attempt_prefix}/{HOME_NAME}"


def home_beside(patch_uri: str) -> str:
    """The home stored by the attempt that stored this patch."""
    return f"{patch_uri.rsplit('/', 1)[0]}/{HOME_NAME}"


def _has_entries(home: Path) -> bool:
    return home.exists() and any(home.iterdir())


def _pack(home: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for entry in sorted(home.iterdir()):
            archive.add(entry, arcname=entry.name)
    return buffer.getvalue()


def _unpack(data: bytes, home: Path) -> None:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        # The `data` filter refuses absolute paths, links out of the home and devices.
        archive.extractall(home, filter="data")


async def save_home(artifacts: ArtifactStore, attempt_prefix: str, home: Path) -> None:
    """Store the agent home unless it is empty or too large to be worth moving."""
    if not _has_entries(home):
        return
    data = await asyncio.to_thread(_pack, home)
    if len(data) > MAX_HOME_BYTES:
        log.warning(
            "agent home too large to store; follow-ups stay on this worker", bytes=len(data)
        )
        return
    await artifacts.put(home_key(attempt_prefix), data, "application/gzip")


async def restore_home(artifacts: ArtifactStore, patch_uri: str | None, home: Path) -> bool:
    """Bring back the home of the patch's attempt into an empty one; True if restored."""
    if patch_uri is None or _has_entries(home):
        return False
    try:
        data = await artifacts.get(home_beside(patch_uri))
    except ArtifactNotFound:
        return False
    await asyncio.to_thread(_unpack, data, home)
    return True
