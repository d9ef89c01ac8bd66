"""Credentials must never reach a log line or an exported span: scan everything a platform wrote.

Every platform of the test session is scanned when it stops (app logs, daprd logs and
the spans each app exported to its spans file), so the whole end-to-end suite is
covered: bearer tokens (JWTs), stream tickets, GitHub installation tokens, `Bearer`
headers and the platform's own secrets (admin password, signing keys, app API tokens,
webhook secret, encryption keys, database passwords).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from dursor_kit.secret_names import (
    ADMIN_PASSWORD,
    APP_IDS,
    DATABASE_URLS,
    ENCRYPTION_KEYS,
    GITHUB_WEBHOOK_SECRET,
    JWT_SIGNING_KEYS,
    POSTGRES_URL,
    app_api_token,
)

# Shapes of credentials, whoever minted them.
CREDENTIAL_SHAPES = {
    "jwt": re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    "stream ticket": re.compile(r"dst_[A-Za-z0-9_-]{20,}"),
    "github token": re.compile(r"gh[sopu]_[A-Za-z0-9_-]{20,}"),
    "bearer header": re.compile(r"[Bb]earer\s+(?!realm)[A-Za-z0-9._~+/-]{16,}"),
}


@dataclass(frozen=True)
class Leak:
    """One credential found in one line of one file."""

    file: Path
    line: int
    kind: str

    def __str__(self) -> str:
        return f"{self.file.name}:{self.line}: {self.kind}"


def platform_secrets(secrets: Mapping[str, str]) -> dict[str, str]:
    """Values of the platform's secrets that must never be written anywhere, by name."""
    names = [ADMIN_PASSWORD, GITHUB_WEBHOOK_SECRET, *(app_api_token(app) for app in APP_IDS)]
    values = {name: secrets[name] for name in names if secrets.get(name)}
    for index, key in enumerate(json.loads(secrets.get(JWT_SIGNING_KEYS, "[]"))):
        values[f"{JWT_SIGNING_KEYS}[{index}]"] = key["pem"].splitlines()[2]
    keyring = json.loads(secrets.get(ENCRYPTION_KEYS, "{}"))
    for key_id, key in keyring.get("keys", {}).items():
        values[f"{ENCRYPTION_KEYS}[{key_id}]"] = key
    for name in (POSTGRES_URL, *DATABASE_URLS):
        password = urlsplit(secrets.get(name, "")).password
        if password:
            values[f"{name} password"] = unquote(password)
    return values


def scan_lines(lines: Iterable[str], file: Path, secrets: Mapping[str, str]) -> list[Leak]:
    """Every credential shape or secret value in these lines."""
    leaks = []
    for number, line in enumerate(lines, 1):
        kinds = [kind for kind, shape in CREDENTIAL_SHAPES.items() if shape.search(line)]
        kinds += [name for name, value in secrets.items() if value and value in line]
        leaks += [Leak(file, number, kind) for kind in kinds]
    return leaks


def scan_folder(folder: Path, secrets: Mapping[str, str]) -> list[Leak]:
    """Every leak in every file under `folder` (logs and exported spans)."""
    leaks: list[Leak] = []
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        with file.open(errors="replace") as lines:
            leaks += scan_lines(lines, file, secrets)
    return leaks


def spans_exported(folder: Path) -> int:
    """How many spans the platform's apps exported (the scan covered them)."""
    return sum(sum(1 for _ in file.open(errors="replace")) for file in folder.glob("*.spans.jsonl"))
