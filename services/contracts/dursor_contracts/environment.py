"""Names a repository may give to the variables its runs see (exports and secrets).

A repository's setup commands export variables (`$DURSOR_ENV`) and an operator gives it
secrets; both reach processes the runner starts in the run's jail. Neither may take a
name the runner sets itself: the agent's credential and provider settings, its HOME,
PATH and locale, the jail's proxy, the dynamic loader's hooks, the platform's own
`DURSOR_*` and Dapr's `DAPR_*`/`APP_API_TOKEN`, and what changes how a shell reads the
jail's own start-up line (`IFS`, `ENV`, …), which runs as root. PATH stays the runner's so that no
repository can put a program of its own in place of the agent CLI, which holds the model
key.
"""

from __future__ import annotations

import re
from typing import Literal
from uuid import UUID

SecretPlace = Literal["setup", "agent", "verify"]


def default_secret_places() -> list[SecretPlace]:
    """Where secrets may go unless the operator says otherwise: not to the agent, which
    sends what it reads to a model."""
    return ["setup", "verify"]


NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
RUNNER_OWNED_NAMES = frozenset(
    {
        "PATH",
        "HOME",
        "TMPDIR",
        "TERM",
        "NO_COLOR",
        "CI",
        "PWD",
        "SHELL",
        "USER",
        "LOGNAME",
        "LANG",
        "TZ",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "APP_API_TOKEN",
        "BASH_ENV",
        "ENV",
        "IFS",
        "CDPATH",
        "PS4",
        "SHELLOPTS",
        "BASHOPTS",
        "GLOBIGNORE",
    }
)
RUNNER_OWNED_PREFIXES = (
    "DURSOR_",
    "DAPR_",
    "LD_",
    "LC_",
    "ANTHROPIC_",
    "CLAUDE_",
    "OPENAI_",
    "CODEX_",
    "GEMINI_",
    "GOOGLE_",
)


def name_refusal(name: str) -> str | None:
    """Why `name` cannot be a repository's variable; None when it can."""
    if NAME_PATTERN.fullmatch(name) is None:
        return f"`{name[:64]}` is not a variable name (letters, digits and _, at most 128)"
    upper = name.upper()
    owned = upper in RUNNER_OWNED_NAMES or upper.startswith(RUNNER_OWNED_PREFIXES)
    owned = owned or upper.endswith("_PROXY")
    if owned:
        return f"`{name}` is set by the runner and cannot be a repository's variable"
    return None


def secret_context(repo_id: UUID, name: str) -> bytes:
    """The associated data a repository secret is sealed with: it opens on no other row."""
    return f"repo-secret/{repo_id}/{name}".encode()
