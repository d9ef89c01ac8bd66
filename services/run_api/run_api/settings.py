"""run-api settings: what input is acceptable and how much one user may run."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args

from pydantic import Field

from dursor_contracts.comparison import DEFAULT_RULE, Criterion
from dursor_contracts.environment import SecretPlace, default_secret_places
from dursor_kit.settings import ServiceSettings

CodexSandbox = Literal["workspace-write", "read-only"]


class RunApiSettings(ServiceSettings):
    """Validated at start."""

    app_id: str = "run-api"
    allowed_repo_hosts: list[str] = Field(default_factory=lambda: ["github.com"])
    # host:port served over plain http (a lab GitHub Enterprise, the tests' stand-in).
    insecure_repo_hosts: list[str] = Field(default_factory=list)
    # A PR review comment containing this mention becomes a follow-up on its run.
    github_mention: str = "@dursor"
    # Laptop mode: repositories on the local disk (file://) are accepted when they lie
    # under this directory (after resolving `..` and symlinks); unset, none are.
    local_repos_root: Path | None = None
    # How GET /v1/tasks/{id}/comparison ranks runs (run_api.comparison.ranking).
    comparison_rule: list[Criterion] = Field(
        default_factory=lambda: list(DEFAULT_RULE), min_length=1
    )
    max_instruction_chars: int = Field(default=32_000, ge=1)
    max_executors_per_request: int = Field(default=8, ge=1)
    max_active_runs_per_user: int = Field(default=20, ge=1)
    max_active_runs_per_task: int = Field(default=16, ge=1)
    max_attempts: int = Field(default=3, ge=1, le=10)
    retry_after_seconds: int = Field(default=30, ge=1)
    command_templates: dict[str, list[str]] = Field(default_factory=dict)
    # What users may ask of an agent beyond the operator's defaults; anything else is a 422.
    # Claude Code tools a run may name in `options.allowed_tools` (exact entries, such as
    # "Read" or "Bash(npm test:*)"); none by default: a shell is the operator's call.
    claude_requestable_tools: list[str] = Field(default_factory=list)
    # Codex sandboxes a run may name in `options.sandbox`.
    codex_requestable_sandboxes: list[CodexSandbox] = Field(
        default_factory=lambda: list(get_args(CodexSandbox))
    )
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    # How long a stored idempotent response is replayed for the same key.
    idempotency_retention_hours: int = Field(default=24, ge=1, le=24 * 30)
    # The encryption key ring is re-read from the secret store this often (rotation).
    keyring_refresh_seconds: float = Field(default=300.0, ge=1.0)
    # Where repository secrets may be injected (agent-runner applies the same bound):
    # the agent is left out by default, since it sends what it reads to a model.
    secret_injection_places: list[SecretPlace] = Field(default_factory=default_secret_places)
    # Outgoing webhooks: cloud mode refuses every non-public target address unless its
    # network is allowlisted here (CIDRs); local mode allows loopback (and http there).
    webhook_mode: Literal["local", "cloud"] = "cloud"
    webhook_allowed_networks: list[str] = Field(default_factory=list)
    webhook_max_attempts: int = Field(default=8, ge=1, le=50)
    webhook_backoff_seconds: float = Field(default=2.0, gt=0)
    webhook_max_backoff_seconds: float = Field(default=600.0, gt=0)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    webhook_poll_seconds: float = Field(default=0.5, gt=0)
