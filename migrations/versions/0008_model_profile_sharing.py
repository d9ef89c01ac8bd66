"""model_profiles.shared: a profile is usable by its owner, or by everyone once shared

Profiles that exist already were usable by every user; they stay shared, so no running
setup loses its key. New profiles are private to their owner unless created shared.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the column; existing profiles keep being usable by everyone."""
    op.add_column(
        "model_profiles",
        sa.Column("shared", sa.Boolean(), nullable=False, server_default=sa.text("false")),
    )
    op.execute(sa.text("UPDATE model_profiles SET shared = true"))


def downgrade() -> None:
    """Drop the column."""
    op.drop_column("model_profiles", "shared")
