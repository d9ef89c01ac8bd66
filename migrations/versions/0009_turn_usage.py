"""turn_usage: tokens and USD cost of every ended turn, for totals and budgets

agent-runner writes one row when a turn ends (in the transaction that ends it), run-api
reads them for `GET /v1/runs/{id}/usage` and the totals per task, user and repository;
agent-runner reads a user's month for the monthly budget.

Revision ID: 0009_turn_usage
Revises: 0008
Create Date: 2026-11-30 06:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009_turn_usage"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GRANTS = {"dursor_agent_runner": "SELECT, INSERT", "dursor_run_api": "SELECT"}


def upgrade() -> None:
    """Create the table, its indexes and its grants."""
    op.create_table(
        "turn_usage",
        sa.Column("run_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("turn", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("task_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("repo_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("executor_type", sa.Text(), nullable=False),
        sa.Column("model", sa.Text(), nullable=True),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cached_input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost_usd", sa.Numeric(18, 8), nullable=True),
        sa.Column("cost_source", sa.Text(), nullable=False),
        sa.Column(
            "reported",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "cost_source IN ('reported', 'price_table', 'unpriced')",
            name=op.f("ck_turn_usage_cost_source"),
        ),
        sa.CheckConstraint(
            "input_tokens >= 0 AND cached_input_tokens >= 0 AND output_tokens >= 0",
            name=op.f("ck_turn_usage_tokens"),
        ),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_turn_usage_run_id_runs")),
        sa.PrimaryKeyConstraint("run_id", "turn", name=op.f("pk_turn_usage")),
    )
    op.create_index(op.f("ix_turn_usage_task_id"), "turn_usage", ["task_id"])
    op.create_index(op.f("ix_turn_usage_repo_id"), "turn_usage", ["repo_id"])
    op.create_index(
        "ix_turn_usage_created_by_created_at", "turn_usage", ["created_by", "created_at"]
    )
    for role, privileges in GRANTS.items():
        op.execute(f"GRANT {privileges} ON TABLE turn_usage TO {role}")


def downgrade() -> None:
    """Drop the table (its grants and indexes go with it)."""
    op.drop_table("turn_usage")
