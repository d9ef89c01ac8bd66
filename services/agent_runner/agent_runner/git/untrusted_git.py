"""The runner's git: never runs what a repository asks it to, never sees the runner's secrets.

An agent may have written anything into a repository's configuration or hooks. Every git
command of the runner therefore runs with the command-line settings below (which beat
any file's), without the system's or the user's config files, and with an environment
built from a short list instead of the runner's own (which holds the sidecar's API token
and the database's URL). Credentials are added per command by the caller
(`extra_env`), never kept in a file.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

GIT_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_NAME": "dursor",
    "GIT_AUTHOR_EMAIL": "dursor@users.noreply.dursor.cloud",
    "GIT_COMMITTER_NAME": "dursor",
    "GIT_COMMITTER_EMAIL": "dursor@users.noreply.dursor.cloud",
}
# No user files: ~/.gitconfig and ~/.config/git/{attributes,ignore} are not the run's.
NO_HOME = "/nonexistent"
# What git may inherit from the runner: how to find programs, certificates and proxies.
INHERITED = (
    "PATH",
    "LANG",
    "LC_ALL",
    "TZ",
    "TMPDIR",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "GIT_SSL_CAINFO",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "NO_PROXY",
    "no_proxy",
)
# Command-line settings outrank every config file, so a repository cannot undo them.
TRUSTED_CONFIG = (
    "core.hooksPath=/dev/null",
    "core.fsmonitor=false",
    "core.pager=cat",
    "core.askPass=",
    "credential.helper=",
    "commit.gpgSign=false",
    "tag.gpgSign=false",
    "diff.external=",
    "protocol.allow=never",
    "protocol.https.allow=always",
    "protocol.http.allow=always",
    "protocol.file.allow=always",
    "submodule.recurse=false",
)


class GitError(Exception):
    """A git command failed."""


def git_env(extra_env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of one git command: the short inherited list, git's own, `extra_env`."""
    inherited = {name: os.environ[name] for name in INHERITED if name in os.environ}
    return {**inherited, **GIT_ENV, "HOME": NO_HOME, **(extra_env or {})}


def git_argv(*args: str) -> list[str]:
    """`git` with the trusted settings before `args`."""
    settings = [part for setting in TRUSTED_CONFIG for part in ("-c", setting)]
    return ["git", *settings, *args]


async def git(
    *args: str,
    cwd: Path | None = None,
    input_bytes: bytes | None = None,
    extra_env: dict[str, str] | None = None,
) -> bytes:
    """Run git with the trusted settings and a scrubbed environment; stdout or GitError."""
    process = await asyncio.create_subprocess_exec(
        *git_argv(*args),
        cwd=cwd,
        env=git_env(extra_env),
        stdin=asyncio.subprocess.PIPE if input_bytes is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate(input_bytes)
    if process.returncode != 0:
        raise GitError(f"git {args[0]} failed: {_clipped(err.decode(errors='replace').strip())}")
    return out


def _clipped(message: str, keep: int = 250) -> str:
    """Head and tail of a long message: git says why (e.g. no space left) at the end."""
    return message if len(message) <= 2 * keep else f"{message[:keep]} … {message[-keep:]}"
