"""users.role_pinned: whether an Admin set the user's role (then it caps every token)

Rows that exist already were made by an Admin (or are the first admin), so they are
pinned; rows recorded at first sight of an external identity are created unpinned.

Revision ID: 0004_users_role_pinned
Revises: 0003
Create Date: 2026-11-29 23:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_users_role_pinned"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column(
        "users",
        sa.Column("role_pinned", sa.Boolean(), server_default=sa.text("true"), nullable=False),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_column("users", "role_pinned")
