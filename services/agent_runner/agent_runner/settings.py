"""agent-runner settings: concurrency, leases, limits, workspaces, command templates."""

from __future__ import annotations

import os
import socket
import uuid
from decimal import Decimal
from typing import Literal

from pydantic import Field, SecretStr

from dursor_contracts.environment import SecretPlace, default_secret_places
from dursor_contracts.usage import ModelPrice
from dursor_kit.settings import ServiceSettings


def default_worker_id() -> str:
    """Unique per process: host, pid and a random suffix (pids repeat across restarts)."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class RunnerSettings(ServiceSettings):
    """Validated at start; every limit has a sane default for a laptop."""

    app_id: str = "agent-runner"
    worker_id: str = Field(default_factory=default_worker_id)
    max_concurrency: int = Field(default=4, ge=1, le=256)
    lease_seconds: float = Field(default=30.0, ge=2.0)
    pull_interval_seconds: float = Field(default=2.0, gt=0)
    reaper_interval_seconds: float = Field(default=5.0, gt=0)
    drain_seconds: float = Field(default=20.0, ge=0)
    workspaces_dir: str = ".data/workspaces"
    worktree_retention_seconds: float = Field(default=7 * 24 * 3600.0, ge=0)
    wall_clock_seconds: float = Field(default=3600.0, gt=0)
    idle_seconds: float = Field(default=600.0, gt=0)
    output_cap_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    kill_grace_seconds: float = Field(default=10.0, ge=0)
    log_batch_bytes: int = Field(default=32 * 1024, ge=256)
    log_batch_seconds: float = Field(default=0.1, gt=0)
    # name -> argv template of the `command` executor,
    # e.g. {"aider": ["aider", "--message", "{instruction}"]}
    command_templates: dict[str, list[str]] = Field(default_factory=dict)
    # GitHub or GitHub Enterprise Server (e.g. https://ghe.example.com/api/v3).
    github_api_url: str = "https://api.github.com"
    # Hosts whose repository URLs are GitHub repositories (owner/name from the path).
    github_hosts: list[str] = Field(default_factory=lambda: ["github.com"])
    # Agent CLIs: the argv that starts each (a wrapper may come first); found on PATH
    # by default (scripts/install-node-tools.sh links them in $DURSOR_CACHE/node-tools/bin).
    claude_command: list[str] = Field(default_factory=lambda: ["claude"], min_length=1)
    codex_command: list[str] = Field(default_factory=lambda: ["codex"], min_length=1)
    gemini_command: list[str] = Field(default_factory=lambda: ["gemini"], min_length=1)
    # As root Claude Code refuses bypassPermissions; acceptEdits lets it edit the worktree.
    claude_permission_mode: Literal["acceptEdits", "bypassPermissions", "default", "plan"] = (
        "acceptEdits"
    )
    # Tools Claude Code may use without asking, e.g. ["Bash(npm test:*)"].
    claude_allowed_tools: list[str] = Field(default_factory=list)
    codex_sandbox: Literal["read-only", "workspace-write", "danger-full-access"] = "workspace-write"
    gemini_approval_mode: Literal["default", "auto_edit", "yolo"] = "auto_edit"
    # Worker-level keys and base URLs for agent runs without a model profile.
    anthropic_api_key: SecretStr | None = None
    anthropic_base_url: str | None = None
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    gemini_api_key: SecretStr | None = None
    gemini_base_url: str | None = None
    # Agent processes (every executor but `llm`) start in a jail of their own ("jail"),
    # or as this worker's own user ("off", until every deployment can jail them).
    sandbox: Literal["jail", "off"] = "off"
    # With "jail" on a host that cannot jail: False refuses agent runs, True runs them
    # unjailed with a loud warning in the worker's and every run's log.
    sandbox_allow_unjailed: bool = False
    # Hosts every jail may reach through its HTTPS proxy besides its model (registries).
    sandbox_allowed_hosts: list[str] = Field(default_factory=list)
    # Folders every jail may read (the agent CLIs' install folder, for instance).
    sandbox_read_only: list[str] = Field(default_factory=list)
    # A model base URL on this host's loopback (a local model server) reaches the jail.
    sandbox_allow_loopback_upstreams: bool = False
    # Host loopback ports (sidecar, Postgres, Redis) whose probes from a jail are logged.
    sandbox_watched_ports: list[int] = Field(default_factory=list)
    sandbox_state_dir: str = ".data/sandbox"
    sandbox_bwrap: str = "bwrap"
    # The operator's price table: model -> USD per million tokens, for executors that report
    # tokens only (e.g. {"gpt-5-codex": {"input_per_mtok": 1.25, "output_per_mtok": 10}}).
    prices: dict[str, ModelPrice] = Field(default_factory=dict)
    # Where repository secrets may be injected (run-api applies the same bound when one
    # is written); the agent is left out by default, since it sends what it reads to a model.
    # The cached setup layer (agent_runner.runs.setup_cache): on by default, this disk only.
    setup_cache: bool = True
    setup_cache_max_bytes: int = Field(default=2 << 30, ge=0)
    secret_injection_places: list[SecretPlace] = Field(default_factory=default_secret_places)
    # Spending caps in USD (agent_runner.budgets): per run (a run's options may set a
    # lower one), per user and calendar month (UTC), and per-user monthly overrides keyed
    # by owner key (issuer#subject). A run that reaches one fails with `budget_exceeded`.
    budget_run_usd: Decimal | None = Field(default=None, gt=0)
    budget_user_month_usd: Decimal | None = Field(default=None, gt=0)
    user_month_budgets_usd: dict[str, Decimal] = Field(default_factory=dict)
    # How much of the worktree the `llm` executor shows the model.
    llm_context_bytes: int = Field(default=200_000, ge=1_000)
