"""repo_secrets: a repository's secrets, sealed like model keys, and where each is injected

run-api writes them (`PUT /v1/repos/{id}/secrets/{name}`, write-only) and deletes them;
agent-runner opens them when it runs the repository's setup, agent or verify commands,
each only where the secret says (bounded by the operator's
`DURSOR_SECRET_INJECTION_PLACES`).

Revision ID: 0012_repo_secrets
Revises: 0011_run_base_commit
Create Date: 2026-11-30 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012_repo_secrets"
down_revision: str | None = "0011_run_base_commit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GRANTS = {"dursor_run_api": "SELECT, INSERT, UPDATE, DELETE", "dursor_agent_runner": "SELECT"}


def upgrade() -> None:
    """Create the table and its grants."""
    op.create_table(
        "repo_secrets",
        sa.Column("repo_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("inject_into", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("key_id", sa.Text(), nullable=False),
        sa.Column("key_nonce", sa.LargeBinary(), nullable=False),
        sa.Column("key_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("updated_by", sa.Text(), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "inject_into <@ ARRAY['setup', 'agent', 'verify']::text[] "
            "AND cardinality(inject_into) >= 1",
            name=op.f("ck_repo_secrets_inject_into"),
        ),
        sa.ForeignKeyConstraint(
            ["repo_id"], ["repos.id"], name=op.f("fk_repo_secrets_repo_id_repos")
        ),
        sa.PrimaryKeyConstraint("repo_id", "name", name=op.f("pk_repo_secrets")),
    )
    for role, privileges in GRANTS.items():
        op.execute(f"GRANT {privileges} ON TABLE repo_secrets TO {role}")


def downgrade() -> None:
    """Drop the table (its grants go with it)."""
    op.drop_table("repo_secrets")
