"""Where `dursor` keeps its settings, and which gateway it talks to."""

from __future__ import annotations

import json
import os
from pathlib import Path

DEFAULT_GATEWAY = "http://127.0.0.1:8080"


def config_dir() -> Path:
    """`$DURSOR_CONFIG_DIR`, else `$XDG_CONFIG_HOME/dursor`, else `~/.config/dursor`."""
    if given := os.environ.get("DURSOR_CONFIG_DIR"):
        return Path(given)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "dursor"


def private_dir() -> Path:
    """The config directory, created readable by its owner only."""
    directory = config_dir()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    return directory


def saved_gateway() -> str | None:
    """The gateway of the last `dursor login`, if any."""
    try:
        saved = json.loads((config_dir() / "config.json").read_text())
    except (OSError, ValueError):
        return None
    gateway = saved.get("gateway") if isinstance(saved, dict) else None
    return gateway if isinstance(gateway, str) else None


def save_gateway(gateway: str) -> None:
    """Remember the gateway for the next commands."""
    path = private_dir() / "config.json"
    path.write_text(json.dumps({"gateway": gateway}, indent=2) + "\n")


def resolve_gateway(given: str | None) -> str:
    """`--gateway`, else `$DURSOR_GATEWAY`, else the saved one, else the local platform."""
    gateway = given or os.environ.get("DURSOR_GATEWAY") or saved_gateway() or DEFAULT_GATEWAY
    return gateway.rstrip("/")
