"""repo_environments: setup and verify commands of a repository; each turn's verification

run-api writes a repository's environment (`PUT /v1/repos/{id}/environment`);
agent-runner reads it when it claims a run, runs the setup commands in the run's jail
before the agent and the verify commands after it, and records what verifying found on
the turn's attempt (`run_attempts.verification`).

Revision ID: 0010_repo_environments
Revises: 0009_turn_usage
Create Date: 2026-11-30 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010_repo_environments"
down_revision: str | None = "0009_turn_usage"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GRANTS = {"dursor_run_api": "SELECT, INSERT, UPDATE", "dursor_agent_runner": "SELECT"}


def upgrade() -> None:
    """Create the table and its grants; add the attempts' verification column."""
    op.create_table(
        "repo_environments",
        sa.Column("repo_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column(
            "setup",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "verify",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("updated_by", sa.Text(), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["repo_id"], ["repos.id"], name=op.f("fk_repo_environments_repo_id_repos")
        ),
        sa.PrimaryKeyConstraint("repo_id", name=op.f("pk_repo_environments")),
    )
    for role, privileges in GRANTS.items():
        op.execute(f"GRANT {privileges} ON TABLE repo_environments TO {role}")
    op.add_column(
        "run_attempts",
        sa.Column("verification", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )


def downgrade() -> None:
    """Drop the column and the table (its grants go with it)."""
    op.drop_column("run_attempts", "verification")
    op.drop_table("repo_environments")
