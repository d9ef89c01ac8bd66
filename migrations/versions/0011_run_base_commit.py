"""run_base_commit: the commit every run of one submission starts from

agent-runner resolves the task's base branch once, when the first run of a submission is
claimed, and pins that commit on every run of the submission that has none yet; later
claims (other runs, retries, follow-up turns) start from the pinned commit even when the
branch has moved. run-api shows it on the run.

Revision ID: 0011_run_base_commit
Revises: 0010_repo_environments
Create Date: 2026-11-30 08:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_run_base_commit"
down_revision: str | None = "0010_repo_environments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the nullable column (NULL until a run of the submission is claimed)."""
    op.add_column("runs", sa.Column("base_commit", sa.Text(), nullable=True))


def downgrade() -> None:
    """Drop the column."""
    op.drop_column("runs", "base_commit")
