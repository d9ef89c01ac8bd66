"""The local secret-store file is its owner's alone from its first byte."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from dursor_kit import local_secrets
from dursor_kit.local_database import database_secrets, pgpass_password, service_role
from dursor_kit.secret_names import APP_IDS, POSTGRES_URL, database_url


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The most permissive umask: the code, not the umask, must make files private."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    """Permission bits of a file."""
    return stat.S_IMODE(path.stat().st_mode)


def test_secrets_file_is_created_0600_before_anything_is_written(
    tmp_path: Path, open_umask: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str, int, int]] = []
    real_fdopen = os.fdopen

    def spying_fdopen(fd: int, *args: Any, **kwargs: Any) -> Any:
        # Every file in the directory, as it is when the writer gets its descriptor.
        seen.extend((p.name, mode(p), p.stat().st_size) for p in tmp_path.iterdir())
        return real_fdopen(fd, *args, **kwargs)

    monkeypatch.setattr(os, "fdopen", spying_fdopen)
    target = tmp_path / "secrets.json"
    local_secrets.ensure_secrets(target, {})
    assert seen, "the writer never opened a file"
    assert all(m == 0o600 and size == 0 for _, m, size in seen), seen
    assert mode(target) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["secrets.json"]


def test_secrets_are_kept_and_overrides_applied(tmp_path: Path, open_umask: None) -> None:
    target = tmp_path / "secrets.json"
    first = local_secrets.ensure_secrets(target, {})
    second = local_secrets.ensure_secrets(target, {"extra": "x"})
    assert second == first | {"extra": "x"}
    assert json.loads(target.read_text()) == second
    assert mode(target) == 0o600


def test_database_secrets_give_each_service_its_own_role_and_keep_passwords(
    tmp_path: Path, open_umask: None
) -> None:
    pgpass = tmp_path / "pgpass"
    owner = "postgresql+asyncpg://dursor@127.0.0.1:5999/dursor"
    made = database_secrets(owner, {}, str(pgpass))
    for app in APP_IDS:
        assert made[database_url(app)].startswith(f"postgresql+asyncpg://{service_role(app)}:")
    assert len({made[database_url(app)] for app in APP_IDS}) == len(APP_IDS)
    # The owner's password is in the libpq password file (0600), and the same next time.
    assert mode(pgpass) == 0o600
    password = pgpass_password(str(pgpass), make_url(owner))
    assert password
    assert make_url(made[POSTGRES_URL]).password == password
    assert database_secrets(owner, made, str(pgpass)) == made
