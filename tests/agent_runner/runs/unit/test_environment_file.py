"""`.dursor/environment.yml`: its shape, and that only a regular file of the commit counts."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from agent_runner.git.run_repos import RunRepo
from agent_runner.runs.environment_file import (
    EnvironmentFile,
    EnvironmentInvalid,
    parse_environment,
    read_environment_file,
    turn_environment,
)
from tests.support.git_remote import git


def test_the_documented_shape_is_read() -> None:
    raw = b"setup:\n  - npm ci\nverify:\n  - npm test\ncache_key_files: [package-lock.json]\n"

    found = parse_environment(raw)

    assert (found.setup, found.verify) == (["npm ci"], ["npm test"])
    assert found.cache_key_files == ["package-lock.json"]
    assert parse_environment(b"") == EnvironmentFile()


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"setup: [npm ci\n", "not valid YAML"),
        (b"- npm ci\n", "expected a mapping"),
        (b"setup: npm ci\n", "setup: Input should be a valid list"),
        (b"setup: [1]\n", "setup.0: Input should be a valid string"),
        (b"steps: [x]\n", "steps: Extra inputs are not permitted"),
        (b"cache_dirs: [../outside]\n", "cache_dirs.0"),
        (b"cache_dirs: [/etc]\n", "cache_dirs.0"),
        (b"setup: !!python/object/apply:os.system [id]\n", "not valid YAML"),
        (b"\xff\xfe", "not valid YAML"),
    ],
)
def test_an_invalid_file_says_what_is_wrong(raw: bytes, why: str) -> None:
    with pytest.raises(EnvironmentInvalid) as refused:
        parse_environment(raw)
    assert str(refused.value).startswith("environment_invalid: .dursor/environment.yml: ")
    assert why in str(refused.value)


def committed(tmp_path: Path, link: bool) -> tuple[RunRepo, str]:
    """A repository whose commit has the file, or a link of that name to one outside."""
    work = tmp_path / "work"
    (work / ".dursor").mkdir(parents=True)
    git("init", "-q", "-b", "main", cwd=work)
    outside = tmp_path / "outside.yml"
    outside.write_text("setup: [echo from outside]\n")
    target = work / ".dursor" / "environment.yml"
    if link:
        os.symlink(outside, target)
    else:
        target.write_text("setup: [echo from the repository]\n")
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "environment", cwd=work)
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=work, capture_output=True, text=True, check=True
    ).stdout.strip()
    return RunRepo(work / ".git", work), commit


async def test_a_regular_file_of_the_commit_is_read(tmp_path: Path) -> None:
    repo, commit = committed(tmp_path, link=False)
    # What the worktree holds now does not count: the commit's tree does.
    (repo.worktree / ".dursor" / "environment.yml").write_text("setup: [echo changed]\n")

    found = await read_environment_file(repo, commit)

    assert found is not None
    assert found.setup == ["echo from the repository"]


async def test_a_link_is_not_followed(tmp_path: Path) -> None:
    repo, commit = committed(tmp_path, link=True)

    assert await read_environment_file(repo, commit) is None


async def test_the_api_environment_wins_when_set(tmp_path: Path) -> None:
    repo, commit = committed(tmp_path, link=False)
    api = EnvironmentFile(setup=["echo from the api"])

    assert await turn_environment(True, api, repo, commit) == (api, "api")
    found, source = await turn_environment(False, EnvironmentFile(), repo, commit)
    assert (found.setup, source) == (["echo from the repository"], ".dursor/environment.yml")
