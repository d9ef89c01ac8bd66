"""The `$DURSOR_ENV` file setup commands write, and the names a repository may use."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent_runner.runs.exports import (
    EXPORTS_MAX_BYTES,
    ExportsRefused,
    exports_file,
    parse_exports,
    take_exports,
)
from dursor_contracts.environment import name_refusal


def test_lines_and_delimited_blocks_are_read_later_ones_winning() -> None:
    text = "A=1\n\nB=x=y\nBLOCK<<EOF\nfirst\n  second\nEOF\nA=2\nEMPTY=\r\n"

    assert parse_exports(text) == {"A": "2", "B": "x=y", "BLOCK": "first\n  second", "EMPTY": ""}


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("JUST_A_NAME\n", "line 1: expected NAME=value"),
        ("X<<\nvalue\n", "names no delimiter"),
        ("X<<EOF\nvalue\n", "is never closed"),
        ("A=1\nPATH=/evil\n", "line 2: `PATH` is set by the runner"),
        ("1ABC=x\n", "is not a variable name"),
        ("A B=x\n", "is not a variable name"),
        ("A=bad\0value\n", "holds a NUL byte"),
    ],
)
def test_malformed_files_are_refused_with_the_line(text: str, why: str) -> None:
    with pytest.raises(ExportsRefused, match=why):
        parse_exports(text)


@pytest.mark.parametrize(
    "name",
    [
        "PATH",
        "HOME",
        "path",
        "LD_PRELOAD",
        "LD_LIBRARY_PATH",
        "DURSOR_ENV",
        "DAPR_API_TOKEN",
        "APP_API_TOKEN",
        "ANTHROPIC_API_KEY",
        "OPENAI_BASE_URL",
        "GEMINI_API_KEY",
        "GOOGLE_GEMINI_BASE_URL",
        "CLAUDE_CODE_USE_BEDROCK",
        "HTTPS_PROXY",
        "no_proxy",
        "IFS",
        "BASH_ENV",
        "LC_ALL",
    ],
)
def test_names_the_runner_owns_are_refused(name: str) -> None:
    assert name_refusal(name) is not None


@pytest.mark.parametrize("name", ["NPM_TOKEN", "DATABASE_URL", "_private", "GOPROXY", "a1"])
def test_ordinary_names_are_accepted(name: str) -> None:
    assert name_refusal(name) is None


def test_a_link_in_place_of_the_file_is_refused_and_removed(tmp_path: Path) -> None:
    target = exports_file(tmp_path, 0)
    secret = tmp_path / "runner-secret"
    secret.write_text("SECRET=from the runner\n")
    os.symlink(secret, target)

    with pytest.raises(ExportsRefused, match="not a regular file"):
        take_exports(target)
    assert not target.is_symlink()
    assert secret.exists()


def test_an_oversized_file_is_refused_and_a_missing_one_exports_nothing(tmp_path: Path) -> None:
    target = exports_file(tmp_path, 1)
    assert take_exports(target) == {}
    target.write_text("A=" + "x" * EXPORTS_MAX_BYTES + "\n")

    with pytest.raises(ExportsRefused, match="at most 64 KiB"):
        take_exports(target)
    assert not target.exists()
