"""An agent's home (its sessions) is stored after a turn and restored on another worker,
from the folder of the attempt whose patch the run names."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from uuid import uuid4

import pytest

from agent_runner.agents.homes import home_key, restore_home, save_home
from dursor_kit.artifacts import LocalArtifactStore


async def _patch_of(store: LocalArtifactStore, prefix: str) -> str:
    """The patch an attempt stored (the run's row names it when the attempt won)."""
    return await store.put(f"{prefix}/patch.diff", b"", "text/x-diff")


async def test_home_round_trips_to_an_empty_home(tmp_path: Path) -> None:
    store, prefix = (
        LocalArtifactStore(tmp_path / "artifacts"),
        f"artifacts/{uuid4()}/turn-1/attempt-1",
    )
    first = tmp_path / "worker-a" / "home"
    (first / ".claude" / "projects").mkdir(parents=True)
    (first / ".claude" / "projects" / "session.jsonl").write_text('{"turn": 1}\n')
    await save_home(store, prefix, first)
    second = tmp_path / "worker-b" / "home"
    second.mkdir(parents=True)

    assert await restore_home(store, await _patch_of(store, prefix), second)
    assert (second / ".claude" / "projects" / "session.jsonl").read_text() == '{"turn": 1}\n'


async def test_a_home_in_use_is_never_overwritten(tmp_path: Path) -> None:
    store, prefix = (
        LocalArtifactStore(tmp_path / "artifacts"),
        f"artifacts/{uuid4()}/turn-1/attempt-1",
    )
    home = tmp_path / "home"
    home.mkdir()
    (home / "mine").write_text("local")
    await store.put(home_key(prefix), _archive({"mine": b"stored"}), "application/gzip")

    assert not await restore_home(store, await _patch_of(store, prefix), home)
    assert (home / "mine").read_text() == "local"


async def test_nothing_stored_means_nothing_restored(tmp_path: Path) -> None:
    store, prefix = LocalArtifactStore(tmp_path / "a"), f"artifacts/{uuid4()}/turn-1/attempt-1"
    home = tmp_path / "home"
    home.mkdir()
    assert not await restore_home(store, await _patch_of(store, prefix), home)
    assert not await restore_home(store, None, home)


async def test_only_the_home_beside_the_named_patch_is_restored(tmp_path: Path) -> None:
    store, run = LocalArtifactStore(tmp_path / "artifacts"), uuid4()
    loser, winner = f"artifacts/{run}/turn-1/attempt-1", f"artifacts/{run}/turn-1/attempt-2"
    await store.put(home_key(loser), _archive({"who": b"fenced out"}), "application/gzip")
    await store.put(home_key(winner), _archive({"who": b"lease holder"}), "application/gzip")
    home = tmp_path / "home"
    home.mkdir()

    assert await restore_home(store, await _patch_of(store, winner), home)
    assert (home / "who").read_bytes() == b"lease holder"


async def test_an_archive_escaping_the_home_is_refused(tmp_path: Path) -> None:
    store, prefix = (
        LocalArtifactStore(tmp_path / "artifacts"),
        f"artifacts/{uuid4()}/turn-1/attempt-1",
    )
    await store.put(home_key(prefix), _archive({"../escaped": b"x"}), "application/gzip")
    home = tmp_path / "home"
    home.mkdir()
    with pytest.raises(tarfile.OutsideDestinationError):
        await restore_home(store, await _patch_of(store, prefix), home)
    assert not (tmp_path / "escaped").exists()


def _archive(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
