"""the pull-request loop: its settings, its rounds and the triggers that start them

Repositories say whether failed CI goes back to the agent (`auto_fix_ci`, off), for how
many rounds (`auto_fix_ci_max_rounds`, 3) and whether answered review threads are
resolved (`resolve_review_threads`, on); a task may choose otherwise (NULL: the
repository's choice). A pull request counts its CI-fix rounds and says why its loop
stopped. `pr_loop_triggers` holds one row per thing GitHub told that may become a turn,
unique per pull request and trigger key, so a redelivered or repeated webhook counts
once. run-api records triggers (and agent-runner's CI poll, for a failure no webhook told);
agent-runner sends them and records what came of them.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = "'ci', 'review', 'comment'"
STATES = "'pending', 'sent', 'done', 'cancelled', 'exhausted', 'stopped'"
GRANTS = {
    "dursor_run_api": "SELECT, INSERT, UPDATE",
    # The runner's CI poll records a failure no webhook told (the loop's safety net).
    "dursor_agent_runner": "SELECT, INSERT, UPDATE",
}
ROUNDS_CHECK = "auto_fix_ci_max_rounds BETWEEN 1 AND 10"


def _settings() -> None:
    op.add_column(
        "repos",
        sa.Column("auto_fix_ci", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.add_column(
        "repos",
        sa.Column(
            "auto_fix_ci_max_rounds", sa.Integer(), server_default=sa.text("3"), nullable=False
        ),
    )
    op.add_column(
        "repos",
        sa.Column(
            "resolve_review_threads", sa.Boolean(), server_default=sa.text("true"), nullable=False
        ),
    )
    op.create_check_constraint(op.f("ck_repos_auto_fix_ci_max_rounds"), "repos", ROUNDS_CHECK)
    op.add_column("tasks", sa.Column("auto_fix_ci", sa.Boolean(), nullable=True))
    op.add_column("tasks", sa.Column("auto_fix_ci_max_rounds", sa.Integer(), nullable=True))
    op.create_check_constraint(op.f("ck_tasks_auto_fix_ci_max_rounds"), "tasks", ROUNDS_CHECK)
    op.add_column(
        "pull_requests",
        sa.Column("ci_fix_rounds", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column("pull_requests", sa.Column("loop_stopped", sa.Text(), nullable=True))


def _stamp(name: str) -> sa.Column[object]:
    return sa.Column(
        name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def _triggers() -> None:
    op.create_table(
        "pr_loop_triggers",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("pull_request_id", sa.UUID(), nullable=False),
        sa.Column("run_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("trigger_key", sa.Text(), nullable=False),
        sa.Column("delivery_id", sa.Text(), nullable=True),
        sa.Column("head_sha", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("author", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=True),
        sa.Column("turn", sa.Integer(), nullable=True),
        sa.Column("sent_text", sa.Text(), nullable=True),
        sa.Column(
            "threads",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("outcome", sa.Text(), nullable=True),
        _stamp("created_at"),
        _stamp("updated_at"),
        sa.CheckConstraint(f"kind IN ({KINDS})", name=op.f("ck_pr_loop_triggers_kind")),
        sa.CheckConstraint(f"state IN ({STATES})", name=op.f("ck_pr_loop_triggers_state")),
        sa.ForeignKeyConstraint(
            ["pull_request_id"],
            ["pull_requests.id"],
            name=op.f("fk_pr_loop_triggers_pull_request_id_pull_requests"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_pr_loop_triggers_run_id_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pr_loop_triggers")),
        sa.UniqueConstraint(
            "pull_request_id",
            "trigger_key",
            name=op.f("uq_pr_loop_triggers_pull_request_id_trigger_key"),
        ),
    )
    op.create_index(
        op.f("ix_pr_loop_triggers_pull_request_id"), "pr_loop_triggers", ["pull_request_id"]
    )
    op.create_index("ix_pr_loop_triggers_run_turn", "pr_loop_triggers", ["run_id", "turn"])


def upgrade() -> None:
    """Add the settings and loop columns, the triggers table and its grants."""
    _settings()
    _triggers()
    for role, privileges in GRANTS.items():
        op.execute(f"GRANT {privileges} ON TABLE pr_loop_triggers TO {role}")


def downgrade() -> None:
    """Drop the triggers table and the loop's columns."""
    op.drop_table("pr_loop_triggers")
    op.drop_column("pull_requests", "loop_stopped")
    op.drop_column("pull_requests", "ci_fix_rounds")
    op.drop_constraint(op.f("ck_tasks_auto_fix_ci_max_rounds"), "tasks", type_="check")
    op.drop_column("tasks", "auto_fix_ci_max_rounds")
    op.drop_column("tasks", "auto_fix_ci")
    op.drop_constraint(op.f("ck_repos_auto_fix_ci_max_rounds"), "repos", type_="check")
    op.drop_column("repos", "resolve_review_threads")
    op.drop_column("repos", "auto_fix_ci_max_rounds")
    op.drop_column("repos", "auto_fix_ci")
