"""An agent's HOME travels with its run, so a follow-up resumes the session on any worker.

Agent CLIs keep their sessions under HOME (e.g. ~/.claude, ~/.codex, ~/.gemini). After
each turn the home is stored as an artifact next to the branch bundle; a worker that
runs a later turn without that home restores it first.
"""

from __future__ import annotations

import asyncio
import io
import tarfile
from pathlib import Path
from uuid import UUID

import structlog

from dursor_kit.artifacts import ArtifactNotFound, ArtifactStore

log = structlog.get_logger(__name__)

MAX_HOME_BYTES = 32 * 1024 * 1024


def home_key(run_id: UUID) -> str:
    """Where a run's agent home is stored (one per run, the latest turn's)."""
    return f"artifacts/{run_id}/agent-home.tar.gz"


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


async def save_home(artifacts: ArtifactStore, run_id: UUID, home: Path) -> None:
    """Store the agent home unless it is empty or too large to be worth moving."""
    if not _has_entries(home):
        return
    data = await asyncio.to_thread(_pack, home)
    if len(data) > MAX_HOME_BYTES:
        log.warning(
            "agent home too large to store; follow-ups stay on this worker", bytes=len(data)
        )
        return
    await artifacts.put(home_key(run_id), data, "application/gzip")


async def restore_home(artifacts: ArtifactStore, run_id: UUID, home: Path) -> bool:
    """Bring back the stored home into an empty one; True if something was restored."""
    if _has_entries(home):
        return False
    try:
        data = await artifacts.get(artifacts.uri(home_key(run_id)))
    except ArtifactNotFound:
        return False
    await asyncio.to_thread(_unpack, data, home)
    return True
