"""An agent's home (its sessions) is stored after a turn and restored on another worker."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from uuid import uuid4

import pytest

from agent_runner.agents.homes import home_key, restore_home, save_home
from dursor_kit.artifacts import LocalArtifactStore


async def test_home_round_trips_to_an_empty_home(tmp_path: Path) -> None:
    store, run_id = LocalArtifactStore(tmp_path / "artifacts"), uuid4()
    first = tmp_path / "worker-a" / "home"
    (first / ".claude" / "projects").mkdir(parents=True)
    (first / ".claude" / "projects" / "session.jsonl").write_text('{"turn": 1}\n')
    await save_home(store, run_id, first)
    second = tmp_path / "worker-b" / "home"
    second.mkdir(parents=True)

    assert await restore_home(store, run_id, second)
    assert (second / ".claude" / "projects" / "session.jsonl").read_text() == '{"turn": 1}\n'


async def test_a_home_in_use_is_never_overwritten(tmp_path: Path) -> None:
    store, run_id = LocalArtifactStore(tmp_path / "artifacts"), uuid4()
    home = tmp_path / "home"
    home.mkdir()
    (home / "mine").write_text("local")
    await store.put(home_key(run_id), _archive({"mine": b"stored"}), "application/gzip")

    assert not await restore_home(store, run_id, home)
    assert (home / "mine").read_text() == "local"


async def test_nothing_stored_means_nothing_restored(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    assert not await restore_home(LocalArtifactStore(tmp_path / "a"), uuid4(), home)


async def test_an_archive_escaping_the_home_is_refused(tmp_path: Path) -> None:
    store, run_id = LocalArtifactStore(tmp_path / "artifacts"), uuid4()
    await store.put(home_key(run_id), _archive({"../escaped": b"x"}), "application/gzip")
    home = tmp_path / "home"
    home.mkdir()
    with pytest.raises(tarfile.OutsideDestinationError):
        await restore_home(store, run_id, home)
    assert not (tmp_path / "escaped").exists()


def _archive(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
