"""The local secret-store file: read as JSON, replaced atomically and privately."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path


def write_private(path: Path, text: str) -> None:
    """Replace `path` with `text`, readable by its owner only from the first byte on.

    The temporary file is created 0600 (whatever the umask) before anything is written,
    then renamed over `path`, so no reader ever sees a partial or world-readable file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_secrets(path: Path) -> dict[str, str]:
    """The secrets of the file, or none when it does not exist yet."""
    current: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    return current
