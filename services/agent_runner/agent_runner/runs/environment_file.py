"""`.dursor/environment.yml`: a repository's own setup and verify commands.

Read from the tree of the run's base commit, never from the worktree: only a regular
file (a link or a submodule there is ignored), at most `ENVIRONMENT_FILE_MAX_BYTES`, so
nothing the agent or a setup command writes changes what runs. The environment set
through the API (`PUT /v1/repos/{id}/environment`) wins whenever one is set; the file is
read only for repositories without one. A file that is not valid YAML or does not have
the documented shape fails the run with `environment_invalid: …`.

    setup:                 # shell commands run before the agent, in order
      - npm ci
    verify:                # ... and after each turn
      - npm test
    cache_key_files:       # optional: files whose content keys the cached setup layer
      - package-lock.json
    cache_dirs:            # optional: what the cached setup layer keeps
      - node_modules
"""

from __future__ import annotations

from typing import Annotated

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

from agent_runner.git.run_repos import RunRepo

ENVIRONMENT_FILE = ".dursor/environment.yml"
ENVIRONMENT_FILE_MAX_BYTES = 64 << 10
REGULAR_FILE_MODES = (b"100644", b"100755")

Command = Annotated[str, StringConstraints(min_length=1, max_length=4000)]


def _inside(path: str) -> str:
    if path.startswith("/") or ".." in path.split("/"):
        raise ValueError("must be a path inside the repository")
    return path


RelativePath = Annotated[
    str, StringConstraints(min_length=1, max_length=400), AfterValidator(_inside)
]


class EnvironmentInvalid(Exception):
    """The repository's environment file cannot be used."""

    REASON = "environment_invalid"

    def __init__(self, detail: str) -> None:
        super().__init__(f"{self.REASON}: {ENVIRONMENT_FILE}: {detail}")


class EnvironmentFile(BaseModel):
    """What `.dursor/environment.yml` may say."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    setup: list[Command] = Field(default_factory=list, max_length=20)
    verify: list[Command] = Field(default_factory=list, max_length=20)
    cache_key_files: list[RelativePath] = Field(default_factory=list, max_length=20)
    cache_dirs: list[RelativePath] = Field(default_factory=list, max_length=20)


async def read_environment_file(repo: RunRepo, commit: str) -> EnvironmentFile | None:
    """The file of `commit`'s tree, parsed; None when the commit has none."""
    entry = await repo.git("ls-tree", "-z", "--long", commit, "--", ENVIRONMENT_FILE)
    if not entry:
        return None
    mode, kind, oid, size = entry.split(b"\t", 1)[0].split()
    if kind != b"blob" or mode not in REGULAR_FILE_MODES:
        return None
    if int(size) > ENVIRONMENT_FILE_MAX_BYTES:
        raise EnvironmentInvalid(f"larger than {ENVIRONMENT_FILE_MAX_BYTES >> 10} KiB")
    return parse_environment(await repo.git("cat-file", "blob", oid.decode()))


def parse_environment(raw: bytes) -> EnvironmentFile:
    """The file's content, validated; `EnvironmentInvalid` says what is wrong."""
    try:
        document = yaml.safe_load(raw.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise EnvironmentInvalid(f"not valid YAML ({_first_line(exc)})") from exc
    if document is None:
        return EnvironmentFile()
    if not isinstance(document, dict):
        raise EnvironmentInvalid("expected a mapping with `setup` and `verify` lists")
    try:
        return EnvironmentFile.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise EnvironmentInvalid(problems[:1000]) from exc


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__


async def turn_environment(
    api_set: bool, api: EnvironmentFile, repo: RunRepo, commit: str
) -> tuple[EnvironmentFile, str]:
    """The environment a turn runs with, and where it came from (`api`, the file, `none`)."""
    if api_set:
        return api, "api"
    found = await read_environment_file(repo, commit)
    return (found, ENVIRONMENT_FILE) if found is not None else (EnvironmentFile(), "none")
