"""The cached setup layer: a setup whose inputs did not change is restored, not run again.

The key is a hash of the setup commands, the cache declarations, the setup-scoped
secrets (hashed) and the git blob ids of the lockfiles in the base commit's tree
(`DEFAULT_KEY_FILES`, or the environment's `cache_key_files`). After a setup that
succeeded, the runner keeps what it left in the worktree: the declared `cache_dirs`, or
else every untracked file (ignored ones included, e.g. `node_modules`, `.venv`), as a tar
archive beside what the commands exported, under `<workspaces>/setup-cache/<repo>/<key>`.
The next turn or run with the same key extracts it into the worktree (links, devices,
absolute paths and `..` refused by the `data` extraction filter) before the jail takes
the worktree over, and skips the commands. The cache is this worker's disk only.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from agent_runner.git.run_repos import RunRepo
from agent_runner.runs.environment_file import EnvironmentFile

DEFAULT_KEY_FILES = (
    "uv.lock",
    "poetry.lock",
    "Pipfile.lock",
    "pdm.lock",
    "requirements.txt",
    "requirements-dev.txt",
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "bun.lockb",
    "go.sum",
    "Cargo.lock",
    "Gemfile.lock",
    "composer.lock",
    "mix.lock",
    "pubspec.lock",
    "gradle.lockfile",
)
ARCHIVE = "files.tar"
EXPORTS = "exports.json"


@dataclass(frozen=True)
class CachedSetup:
    """A stored setup result: its archive and what its commands exported."""

    folder: Path

    @property
    def exports(self) -> dict[str, str]:
        """The variables the cached setup exported."""
        loaded = json.loads((self.folder / EXPORTS).read_text())
        return {str(k): str(v) for k, v in loaded.items()}


class SetupCache:
    """Setup results of this worker, per repository and key."""

    def __init__(self, root: Path, max_bytes: int = 2 << 30) -> None:
        self.root = root
        self.max_bytes = max_bytes

    async def key(
        self,
        repo: RunRepo,
        commit: str,
        environment: EnvironmentFile,
        secrets: Mapping[str, str],
    ) -> str:
        """What the setup's result depends on, as one hash."""
        files = environment.cache_key_files or list(DEFAULT_KEY_FILES)
        tree = await repo.git("ls-tree", "-z", commit, "--", *files)
        digest = hashlib.sha256()
        for part in (
            json.dumps(environment.setup),
            json.dumps(environment.cache_dirs),
            json.dumps(
                {k: hashlib.sha256(v.encode()).hexdigest() for k, v in sorted(secrets.items())}
            ),
        ):
            digest.update(part.encode() + b"\0")
        digest.update(tree)
        return digest.hexdigest()

    def folder(self, repo_url: str, key: str) -> Path:
        """Where the result of `key` for this repository is kept."""
        repo = hashlib.sha256(repo_url.encode()).hexdigest()[:24]
        return self.root / repo / key

    def lookup(self, repo_url: str, key: str) -> CachedSetup | None:
        """The stored result, if a complete one exists."""
        folder = self.folder(repo_url, key)
        complete = (folder / ARCHIVE).is_file() and (folder / EXPORTS).is_file()
        return CachedSetup(folder) if complete else None

    async def restore(self, cached: CachedSetup, worktree: Path) -> int:
        """Extract the cached files into the worktree; how many entries."""
        return await asyncio.to_thread(_extract, cached.folder / ARCHIVE, worktree)

    async def save(
        self,
        repo_url: str,
        key: str,
        repo: RunRepo,
        environment: EnvironmentFile,
        exported: Mapping[str, str],
    ) -> int | None:
        """Keep what setup left; the entries kept, None when over `max_bytes`."""
        listed = await repo.git("ls-files", "--others", "-z", "--", *environment.cache_dirs)
        paths = sorted({p for p in listed.decode(errors="surrogateescape").split("\0") if p})
        folder = self.folder(repo_url, key)
        folder.parent.mkdir(parents=True, exist_ok=True)
        return await asyncio.to_thread(
            _store, folder, repo.worktree, paths, dict(exported), self.max_bytes
        )


def _extract(archive: Path, worktree: Path) -> int:
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        tar.extractall(worktree, members=members, filter=_inside_only)  # noqa: S202 (data filter)
    return len(members)


def _inside_only(member: tarfile.TarInfo, destination: str) -> tarfile.TarInfo | None:
    """The `data` filter, skipping (not failing on) what it refuses: a link out, a device."""
    try:
        return tarfile.data_filter(member, destination)
    except tarfile.FilterError:
        return None


def _store(
    folder: Path, worktree: Path, paths: list[str], exported: dict[str, str], max_bytes: int
) -> int | None:
    staging = folder.with_name(f"{folder.name}.{os.getpid()}.partial")
    staging.mkdir(parents=True, exist_ok=True)
    total = 0
    with tarfile.open(staging / ARCHIVE, "w") as tar:
        for path in paths:
            full = worktree / path
            if not full.is_symlink() and full.is_file():
                total += full.stat().st_size
            if total > max_bytes:
                break
            tar.add(full, arcname=path, recursive=False)
    if total > max_bytes:
        _remove(staging)
        return None
    (staging / EXPORTS).write_text(json.dumps(exported))
    try:
        staging.rename(folder)  # complete or absent: a reader never sees half of one
    except OSError:  # another attempt stored the same key first
        _remove(staging)
    return len(paths)


def _remove(folder: Path) -> None:
    for child in folder.iterdir():
        child.unlink()
    folder.rmdir()
