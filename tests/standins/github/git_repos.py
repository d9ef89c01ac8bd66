"""Bare git repositories behind the stand-in: smart HTTP, push detection, diffs and commits.

Pushes go through `git http-backend` (receive-pack needs an installation token as
`x-access-token` basic auth, like github.com); the branches a push moved are reported
to a callback, the way GitHub turns a push into `synchronize` and CI runs.
"""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

PushCallback = Callable[[str, dict[str, str]], Awaitable[None]]


@dataclass(frozen=True)
class Commit:
    """What GitHub reports of a commit (`head_commit` in check suite payloads)."""

    sha: str
    tree_id: str
    message: str
    timestamp: str
    author_name: str
    author_email: str


@dataclass(frozen=True)
class DiffStats:
    """A pull request's size: commits, additions, deletions, changed files."""

    commits: int
    additions: int
    deletions: int
    changed_files: int


class RepoGit:
    """Read-only git queries on the stand-in's bare repositories."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, repo: str) -> Path:
        """Where a repository's bare git directory lives."""
        return self.root / f"{repo}.git"

    def _git(self, repo: str, *args: str) -> str:
        result = subprocess.run(
            ["git", *args], cwd=self.path(repo), capture_output=True, text=True, check=False
        )
        return result.stdout if result.returncode == 0 else ""

    def branch_sha(self, repo: str, branch: str) -> str | None:
        """The commit a branch points at, or None if it does not exist."""
        return (
            self._git(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}").strip()
            or None
        )

    def branches(self, repo: str) -> dict[str, str]:
        """Every branch and its commit."""
        listing = self._git(
            repo, "for-each-ref", "--format=%(refname:short) %(objectname)", "refs/heads"
        )
        return dict(line.split(" ", 1) for line in listing.splitlines() if line)

    def commit(self, repo: str, sha: str) -> Commit:
        """A commit's tree, message, author and time."""
        fields = self._git(repo, "show", "-s", "--format=%T%x00%B%x00%cI%x00%an%x00%ae", sha)
        tree, message, stamp, name, email = (fields.split("\x00") + [""] * 5)[:5]
        return Commit(sha, tree, message.strip(), stamp.strip(), name, email.strip())

    def read(self, repo: str, sha: str, path: str) -> str | None:
        """A file's text at a commit, or None if it is not there."""
        result = subprocess.run(
            ["git", "show", f"{sha}:{path}"], cwd=self.path(repo), capture_output=True, check=False
        )
        return result.stdout.decode(errors="replace") if result.returncode == 0 else None

    def diff(self, repo: str, base: str, head: str, path: str | None = None) -> str:
        """The pull request diff (`base...head`, from their merge base), optionally of one file."""
        return self._git(repo, "diff", f"{base}...{head}", "--", *([path] if path else []))

    def stats(self, repo: str, base: str, head: str) -> DiffStats:
        """Commits, additions, deletions and changed files between base and head."""
        commits = self._git(repo, "rev-list", "--count", f"{base}..{head}").strip()
        rows = [
            line.split("\t")
            for line in self._git(repo, "diff", "--numstat", f"{base}...{head}").splitlines()
        ]
        added = sum(int(r[0]) for r in rows if r[0].isdigit())
        deleted = sum(int(r[1]) for r in rows if r[1].isdigit())
        return DiffStats(int(commits or 0), added, deleted, len(rows))


@dataclass(frozen=True)
class HunkLine:
    """Where an inline comment lands in a file's diff: its hunk so far and its position."""

    diff_hunk: str
    position: int


def locate_line(file_diff: str, line: int, side: str) -> HunkLine | None:
    """The diff hunk up to `line` (new file for RIGHT, old for LEFT), as GitHub shows it."""
    position, hunk, old, new = -1, [], 0, 0
    for text in file_diff.splitlines():
        if text.startswith("@@"):
            old, new = _hunk_starts(text)
            hunk = [text]
            position += 1  # the first header is position 0; later headers count as lines
            continue
        if position < 0:
            continue  # file headers before the first hunk
        position += 1
        hunk.append(text)
        kind = text[:1]
        if kind == "\\":
            continue  # "\ No newline at end of file" belongs to no side
        here_old, here_new = old, new
        old, new = old + (kind != "+"), new + (kind != "-")
        if side == "RIGHT" and kind != "-" and here_new == line:
            return HunkLine("\n".join(hunk), position)
        if side == "LEFT" and kind != "+" and here_old == line:
            return HunkLine("\n".join(hunk), position)
    return None


def _hunk_starts(header: str) -> tuple[int, int]:
    """Old and new start lines of a `@@ -a,b +c,d @@` header."""
    old_part, new_part = header.split(" ")[1:3]
    return int(old_part[1:].split(",")[0]), int(new_part[1:].split(",")[0])


class GitHttp:
    """`git http-backend` for the repositories; pushes need a token for their repository."""

    def __init__(
        self, git: RepoGit, token_ok: Callable[[str, str], bool], on_push: PushCallback
    ) -> None:
        self._git = git
        self._token_ok = token_ok
        self._on_push = on_push

    async def serve(self, request: Request) -> Response:
        """One smart-HTTP exchange; a receive-pack reports the branches it moved (old shas)."""
        repo = f"{request.path_params['owner']}/{request.path_params['name']}"
        rest = request.path_params["rest"]
        pushing = "receive-pack" in request.query_params.get("service", rest)
        if pushing and not self._basic_token_ok(request, repo):
            return Response(
                "Authentication failed",
                status_code=401,
                headers={"www-authenticate": 'Basic realm="GitHub"'},
            )
        before = self._git.branches(repo) if rest == "git-receive-pack" else None
        output = await self._backend(request, repo, rest)
        if before is not None:
            after = self._git.branches(repo)
            moved = {b: before.get(b, "") for b, sha in after.items() if before.get(b) != sha}
            if moved:
                await self._on_push(repo, moved)
        return _cgi_response(output)

    async def _backend(self, request: Request, repo: str, rest: str) -> bytes:
        body = await request.body()
        env = {
            "GIT_PROJECT_ROOT": str(self._git.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": f"/{repo}.git/{rest}",
            "REQUEST_METHOD": request.method,
            "QUERY_STRING": request.url.query,
            "CONTENT_TYPE": request.headers.get("content-type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": "x-access-token",
            "PATH": os.environ["PATH"],
        }
        process = await asyncio.create_subprocess_exec(
            "git", "-c", "http.receivepack=true", "http-backend", env=env,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, _ = await process.communicate(body)
        return out

    def _basic_token_ok(self, request: Request, repo: str) -> bool:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("basic "):
            return False
        user, _, token = base64.b64decode(header[6:]).decode().partition(":")
        return user == "x-access-token" and self._token_ok(token, repo)


def _cgi_response(output: bytes) -> Response:
    head, _, body = output.partition(b"\r\n\r\n")
    if not body and b"\n\n" in output:
        head, _, body = output.partition(b"\n\n")
    headers: dict[str, str] = {}
    status = 200
    for line in head.decode().splitlines():
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = int(value.strip().split()[0])
        elif name:
            headers[name.strip()] = value.strip()
    return Response(body, status_code=status, headers=headers)
