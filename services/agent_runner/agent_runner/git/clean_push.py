"""Pushing a run's branch from a clean repository that holds nothing but the run's commits.

The push never runs in the run's own repository, whose config and hooks an agent may
have written (a `url.<x>.insteadOf` or a `pre-push` hook would take the token). A fresh
bare repository borrows the mirror's objects, takes the branch from the run's bundle
artifact and pushes it with the token in that one command's environment (`GIT_CONFIG_*`),
never in a file, a remote URL, argv or a log line. The pull-request template is read
from the pushed commit's tree, where a symlink is a link and never the file it names.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import shutil
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from uuid import uuid4

from agent_runner.git.untrusted_git import git
from agent_runner.git.workspaces import Workspaces

TEMPLATE_LIMIT_BYTES = 64 * 1024
# Plain and executable files; a symlink (120000) or a submodule is never read.
REGULAR_FILE_MODES = (b"100644", b"100755")


def auth_env(token: str) -> dict[str, str]:
    """git configuration through the environment: an Authorization header for HTTPS."""
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    return {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "http.extraHeader",
        "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
    }


@dataclass(frozen=True)
class CleanCheckout:
    """A throwaway bare repository holding the run's branch at `commit`."""

    git_dir: Path
    branch: str
    commit: str

    async def git(self, *args: str, extra_env: dict[str, str] | None = None) -> bytes:
        """git on this repository only."""
        return await git(*args, extra_env={"GIT_DIR": str(self.git_dir)} | (extra_env or {}))

    async def push(self, remote_url: str, token: str) -> None:
        """Push the run's commit to the branch at the repository's own URL."""
        refspec = f"{self.commit}:refs/heads/{self.branch}"
        await self.git(
            "push", "--quiet", "--no-verify", remote_url, refspec, extra_env=auth_env(token)
        )

    async def regular_file(self, paths: Sequence[str]) -> str | None:
        """The first of `paths` that is a regular file of the commit, as text (else None)."""
        for path in paths:
            entry = await self.git("ls-tree", "-z", self.commit, "--", path)
            if not entry:
                continue
            mode, kind, oid = entry.split(b"\t", 1)[0].split()
            if kind != b"blob" or mode not in REGULAR_FILE_MODES:
                continue
            data = await self.git("cat-file", "blob", oid.decode())
            if len(data) <= TEMPLATE_LIMIT_BYTES:
                return data.decode(errors="replace")
        return None


@contextlib.asynccontextmanager
async def clean_checkout(
    workspaces: Workspaces, url: str, branch: str, bundle: bytes
) -> AsyncIterator[CleanCheckout]:
    """A fresh repository with the bundle's branch, deleted on leaving."""
    mirror = await workspaces.sync_mirror(url)
    folder = workspaces.root / "pushes" / uuid4().hex
    git_dir = folder / "repo.git"
    try:
        await git("init", "--quiet", "--bare", "--template=", str(git_dir))
        info = git_dir / "objects" / "info"
        info.mkdir(parents=True, exist_ok=True)
        (info / "alternates").write_text(f"{mirror / 'objects'}\n")
        bundle_path = folder / "branch.bundle"
        bundle_path.write_bytes(bundle)
        ref = f"refs/heads/{branch}"
        named = {"GIT_DIR": str(git_dir)}
        await git("fetch", "--quiet", str(bundle_path), f"+{ref}:{ref}", extra_env=named)
        commit = await git("rev-parse", "--verify", f"{ref}^{{commit}}", extra_env=named)
        yield CleanCheckout(git_dir, branch, commit.decode().strip())
    finally:
        await asyncio.to_thread(shutil.rmtree, folder, True)
