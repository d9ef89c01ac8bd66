"""The shared PostgreSQL schema: every table, as SQLAlchemy Core metadata that Alembic migrates."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from dursor_contracts.events import RunStatus
from dursor_contracts.executors import EXECUTOR_KINDS
from dursor_contracts.pull_requests import (
    CiStatus,
    LoopTriggerKind,
    LoopTriggerState,
    PullRequestState,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ROLES = ("admin", "developer", "viewer")
RUN_STATUSES = tuple(status.value for status in RunStatus)
PULL_REQUEST_STATES = tuple(state.value for state in PullRequestState)
PROVIDERS = ("openai", "anthropic", "google")
LOOP_TRIGGER_KINDS = tuple(kind.value for kind in LoopTriggerKind)
LOOP_TRIGGER_STATES = tuple(state.value for state in LoopTriggerState)
DEFAULT_CI_FIX_ROUNDS = 3
WEBHOOK_DELIVERY_STATUSES = ("pending", "delivered", "dead")


def _in(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


def _id() -> Column[object]:
    return Column("id", UUID(as_uuid=True), primary_key=True)


def _created_at() -> Column[object]:
    return Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now())


users = Table(
    "users",
    metadata,
    _id(),
    Column("issuer", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("username", Text, nullable=False),
    Column("display_name", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("password_hash", Text),
    Column("disabled", Boolean, nullable=False, server_default=text("false")),
    # True when an Admin set the role: it then caps every token of the user. False for a
    # row recorded at first sight of an external identity (it caps only its API tokens).
    Column("role_pinned", Boolean, nullable=False, server_default=text("true")),
    _created_at(),
    UniqueConstraint("issuer", "subject"),
    UniqueConstraint("username"),
    CheckConstraint(_in("role", ROLES), name="role"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    _id(),
    Column("user_id", UUID(as_uuid=True), ForeignKey("users.id"), nullable=False),
    Column("name", Text, nullable=False),
    Column("token_hash", Text, nullable=False, unique=True),
    Column("role", Text, nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    Column("last_used_at", DateTime(timezone=True)),
    _created_at(),
    CheckConstraint(_in("role", ROLES), name="role"),
)

repos = Table(
    "repos",
    metadata,
    _id(),
    Column("url", Text, nullable=False, unique=True),
    Column("default_branch", Text, nullable=False),
    Column("created_by", Text, nullable=False),
    _created_at(),
    # The pull-request loop's settings (migration 0007): failed CI goes back to the agent
    # only when asked, for at most this many rounds; answered threads are resolved.
    Column("auto_fix_ci", Boolean, nullable=False, server_default=text("false")),
    Column(
        "auto_fix_ci_max_rounds",
        Integer,
        nullable=False,
        server_default=text(str(DEFAULT_CI_FIX_ROUNDS)),
    ),
    Column("resolve_review_threads", Boolean, nullable=False, server_default=text("true")),
    CheckConstraint("auto_fix_ci_max_rounds BETWEEN 1 AND 10", name="auto_fix_ci_max_rounds"),
)

tasks = Table(
    "tasks",
    metadata,
    _id(),
    Column("repo_id", UUID(as_uuid=True), ForeignKey("repos.id"), nullable=False, index=True),
    Column("title", Text, nullable=False),
    Column("base_branch", Text, nullable=False),
    Column("created_by", Text, nullable=False),
    _created_at(),
    # A task's own choice for the pull-request loop; NULL takes the repository's.
    Column("auto_fix_ci", Boolean),
    Column("auto_fix_ci_max_rounds", Integer),
    CheckConstraint("auto_fix_ci_max_rounds BETWEEN 1 AND 10", name="auto_fix_ci_max_rounds"),
)

model_profiles = Table(
    "model_profiles",
    metadata,
    _id(),
    Column("name", Text, nullable=False),
    Column("provider", Text, nullable=False),
    Column("model", Text, nullable=False),
    Column("base_url", Text),
    Column("key_id", Text, nullable=False),
    Column("key_nonce", LargeBinary, nullable=False),
    Column("key_ciphertext", LargeBinary, nullable=False),
    Column("created_by", Text, nullable=False),
    # False: only its owner may run with it; an Admin shares it with every user.
    Column("shared", Boolean, nullable=False, server_default=text("false")),
    _created_at(),
    Column("deleted_at", DateTime(timezone=True)),
    CheckConstraint(_in("provider", PROVIDERS), name="provider"),
)

runs = Table(
    "runs",
    metadata,
    _id(),
    Column("task_id", UUID(as_uuid=True), ForeignKey("tasks.id"), nullable=False, index=True),
    Column("executor_type", Text, nullable=False),
    Column("model", Text),
    Column("model_profile_id", UUID(as_uuid=True), ForeignKey("model_profiles.id")),
    Column("options", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("instruction", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("turn", Integer, nullable=False, server_default=text("1")),
    Column("attempt", Integer, nullable=False, server_default=text("1")),
    Column("max_attempts", Integer, nullable=False),
    Column("branch", Text, nullable=False),
    Column("session_id", Text),
    Column("lease_owner", Text),
    Column("lease_expires_at", DateTime(timezone=True)),
    Column("cancel_requested_at", DateTime(timezone=True)),
    Column("cancel_reason", Text),
    Column("created_by", Text, nullable=False),
    _created_at(),
    Column("queued_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Column("summary", Text),
    Column("files_changed", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("usage", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("error", Text),
    Column("patch_uri", Text),
    Column("bundle_uri", Text),
    Column("commit_sha", Text),
    Column("last_seq", BigInteger, nullable=False, server_default=text("0")),
    Column("dispatch_count", Integer, nullable=False, server_default=text("0")),
    # The commit every run of the submission starts from, pinned at the first claim of
    # one of them (migration 0011_run_base_commit).
    Column("base_commit", Text),
    CheckConstraint(_in("status", RUN_STATUSES), name="status"),
    CheckConstraint(_in("executor_type", EXECUTOR_KINDS), name="executor_type"),
    CheckConstraint("attempt >= 1 AND attempt <= max_attempts", name="attempt"),
    CheckConstraint("turn >= 1", name="turn"),
    CheckConstraint(
        f"(status = '{RunStatus.RUNNING}') = "
        "(lease_owner IS NOT NULL AND lease_expires_at IS NOT NULL)",
        name="lease_iff_running",
    ),
    Index("ix_runs_status_lease", "status", "lease_expires_at"),
    Index(
        "ix_runs_created_by_active",
        "created_by",
        postgresql_where=text(f"status IN ('{RunStatus.QUEUED}','{RunStatus.RUNNING}')"),
    ),
)

run_attempts = Table(
    "run_attempts",
    metadata,
    Column("run_id", UUID(as_uuid=True), ForeignKey("runs.id"), nullable=False),
    Column("turn", Integer, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("status", Text, nullable=False),
    Column("worker", Text),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Column("error", Text),
    # What verifying the turn found (dursor_contracts.verification; migration 0010).
    Column("verification", JSONB),
    _created_at(),
    PrimaryKeyConstraint("run_id", "turn", "attempt"),
    CheckConstraint(_in("status", RUN_STATUSES), name="status"),
)

messages = Table(
    "messages",
    metadata,
    _id(),
    Column("task_id", UUID(as_uuid=True), ForeignKey("tasks.id"), nullable=False, index=True),
    Column("run_id", UUID(as_uuid=True), ForeignKey("runs.id"), index=True),
    Column("turn", Integer),
    Column("role", Text, nullable=False),
    Column("content", Text, nullable=False),
    Column("created_by", Text, nullable=False),
    _created_at(),
    CheckConstraint(_in("role", ("user", "assistant", "system")), name="role"),
)

run_events = Table(
    "run_events",
    metadata,
    Column("run_id", UUID(as_uuid=True), ForeignKey("runs.id"), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("task_id", UUID(as_uuid=True), nullable=False),
    Column("turn", Integer, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("type", Text, nullable=False),
    Column("data", JSONB, nullable=False),
    _created_at(),
    PrimaryKeyConstraint("run_id", "seq"),
    CheckConstraint("seq >= 1", name="seq"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
    # The app id that wrote the row: only that app's relay publishes it (migration 0005).
    Column("source", Text, nullable=False),
    Column("pubsub", Text, nullable=False),
    Column("topic", Text, nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("traceparent", Text),
    _created_at(),
    Column("available_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("sent_at", DateTime(timezone=True)),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("last_error", Text),
    Index("ix_outbox_pending", "source", "available_at", postgresql_where=text("sent_at IS NULL")),
)

pull_requests = Table(
    "pull_requests",
    metadata,
    _id(),
    Column("run_id", UUID(as_uuid=True), ForeignKey("runs.id"), nullable=False, unique=True),
    Column("task_id", UUID(as_uuid=True), ForeignKey("tasks.id"), nullable=False, index=True),
    Column("number", Integer),
    Column("url", Text),
    Column("state", Text, nullable=False),
    Column("head_branch", Text, nullable=False),
    Column("base_branch", Text, nullable=False),
    Column("head_sha", Text),
    Column("ci_status", Text, nullable=False, server_default=text(f"'{CiStatus.UNKNOWN}'")),
    Column("ci_etag", Text),
    Column("title", Text),
    Column("error", Text),
    Column("requested_by", Text, nullable=False),
    _created_at(),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # The feedback loop (migration 0007): CI-fix rounds sent, and why it stopped, if it did.
    Column("ci_fix_rounds", Integer, nullable=False, server_default=text("0")),
    Column("loop_stopped", Text),
    CheckConstraint(_in("state", PULL_REQUEST_STATES), name="state"),
)

# One row per thing GitHub told that may become a turn of a pull request's feedback loop
# (a failed head commit, a review, a comment); the key makes a trigger count once.
pr_loop_triggers = Table(
    "pr_loop_triggers",
    metadata,
    _id(),
    Column(
        "pull_request_id",
        UUID(as_uuid=True),
        ForeignKey("pull_requests.id"),
        nullable=False,
        index=True,
    ),
    Column("run_id", UUID(as_uuid=True), ForeignKey("runs.id"), nullable=False),
    Column("kind", Text, nullable=False),
    Column("trigger_key", Text, nullable=False),
    Column("delivery_id", Text),
    Column("head_sha", Text),
    # What on GitHub raised it: a check suite's id or a status's context, a review's or
    # a comment's id.
    Column("source", Text, nullable=False),
    Column("author", Text, nullable=False),
    Column("note", Text),
    Column("state", Text, nullable=False),
    Column("round", Integer),
    Column("turn", Integer),
    Column("sent_text", Text),
    Column("threads", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("outcome", Text),
    _created_at(),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("pull_request_id", "trigger_key"),
    CheckConstraint(_in("kind", LOOP_TRIGGER_KINDS), name="kind"),
    CheckConstraint(_in("state", LOOP_TRIGGER_STATES), name="state"),
    Index("ix_pr_loop_triggers_run_turn", "run_id", "turn"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("owner", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("method", Text, nullable=False),
    Column("path", Text, nullable=False),
    Column("request_hash", Text, nullable=False),
    Column("status_code", Integer),
    Column("response_body", LargeBinary),
    Column("response_headers", JSONB),
    _created_at(),
    PrimaryKeyConstraint("owner", "key"),
)

dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("topic", Text, nullable=False),
    Column("event_id", Text, nullable=False),
    Column("run_id", UUID(as_uuid=True)),
    Column("payload", JSONB, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Why it was refused, when a consumer decided so (a rejected run submission);
    # NULL for what the resiliency retries gave up on (migration 0007).
    Column("reason", Text),
    UniqueConstraint("topic", "event_id"),
)

# Every `run-submissions` message taken, by CloudEvent id: a redelivery or a duplicate
# with the same id finds its row and creates nothing (migration 0007).
run_submissions = Table(
    "run_submissions",
    metadata,
    Column("event_id", Text, primary_key=True),
    Column("source", Text, nullable=False),
    Column("submitted_as", Text),
    Column("task_id", UUID(as_uuid=True), ForeignKey("tasks.id")),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Outgoing webhooks (migration 0007). An Admin registers an endpoint (run-api's
# `webhooks/repository.py` owns these rows); its secret is sealed like a model key.
webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    _id(),
    Column("url", Text, nullable=False),
    Column("event_types", ARRAY(Text), nullable=False),
    Column("secret_key_id", Text, nullable=False),
    Column("secret_nonce", LargeBinary, nullable=False),
    Column("secret_ciphertext", LargeBinary, nullable=False),
    Column("created_by", Text, nullable=False),
    _created_at(),
    Column("deleted_at", DateTime(timezone=True)),
)

# One row per (endpoint, message): the webhooks' own outbox and delivery log, written in
# the transaction of the change it announces (`dursor_store/webhook_deliveries.py`).
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("endpoint_id", UUID(as_uuid=True), ForeignKey("webhook_endpoints.id"), nullable=False),
    Column("message_id", Text, nullable=False),
    Column("event_type", Text, nullable=False),
    # Deliveries of one key (a run) to one endpoint go out one at a time, in id order.
    Column("order_key", Text, nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("status", Text, nullable=False, server_default=text("'pending'")),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("last_status_code", Integer),
    Column("last_error", Text),
    _created_at(),
    Column("delivered_at", DateTime(timezone=True)),
    UniqueConstraint("endpoint_id", "message_id"),
    CheckConstraint(_in("status", WEBHOOK_DELIVERY_STATUSES), name="status"),
    Index(
        "ix_webhook_deliveries_pending",
        "endpoint_id",
        "order_key",
        "id",
        postgresql_where=text("status = 'pending'"),
    ),
)

COST_SOURCES = ("reported", "price_table", "unpriced")

# One row per ended turn that reported usage (migration 0009_turn_usage); the task, repo
# and user are copied in so totals and monthly budgets need no join.
turn_usage = Table(
    "turn_usage",
    metadata,
    Column("run_id", UUID(as_uuid=True), ForeignKey("runs.id"), nullable=False),
    Column("turn", Integer, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("task_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("repo_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("created_by", Text, nullable=False),
    Column("executor_type", Text, nullable=False),
    Column("model", Text),
    Column("input_tokens", BigInteger, nullable=False),
    Column("cached_input_tokens", BigInteger, nullable=False),
    Column("output_tokens", BigInteger, nullable=False),
    Column("cost_usd", Numeric(18, 8)),
    Column("cost_source", Text, nullable=False),
    Column("reported", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    _created_at(),
    PrimaryKeyConstraint("run_id", "turn"),
    CheckConstraint(_in("cost_source", COST_SOURCES), name="cost_source"),
    CheckConstraint(
        "input_tokens >= 0 AND cached_input_tokens >= 0 AND output_tokens >= 0", name="tokens"
    ),
    Index("ix_turn_usage_created_by_created_at", "created_by", "created_at"),
)

# A repository's environment (migration 0010_repo_environments): shell commands run in
# each run's jail before the agent (`setup`) and after each turn (`verify`). run-api
# writes it; agent-runner reads it when it claims a run.
repo_environments = Table(
    "repo_environments",
    metadata,
    Column("repo_id", UUID(as_uuid=True), ForeignKey("repos.id"), primary_key=True),
    Column("setup", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("verify", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("updated_by", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

SECRET_PLACES = ("setup", "agent", "verify")

# A repository's secrets (migration 0012_repo_secrets), sealed like model keys with
# "<repo id>/<name>" as associated data. run-api writes them (write-only), agent-runner
# opens them for the commands `inject_into` names.
repo_secrets = Table(
    "repo_secrets",
    metadata,
    Column("repo_id", UUID(as_uuid=True), ForeignKey("repos.id"), nullable=False),
    Column("name", Text, nullable=False),
    Column("inject_into", ARRAY(Text), nullable=False),
    Column("key_id", Text, nullable=False),
    Column("key_nonce", LargeBinary, nullable=False),
    Column("key_ciphertext", LargeBinary, nullable=False),
    Column("updated_by", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("repo_id", "name"),
    CheckConstraint(
        "inject_into <@ ARRAY['setup', 'agent', 'verify']::text[] "
        "AND cardinality(inject_into) >= 1",
        name="inject_into",
    ),
)
