"""outbox.source: the app that wrote each message; each relay publishes only its own

Until now every app's relay drained the one table (filtered by the topics its app may
publish), so a CloudEvent's `source` named whichever relay picked the row. Each row now
records its writer, and the relay of that app alone publishes it. Rows already waiting
get the app that published their topic in every case: run-api's sidecar may publish all
four topics (agent-runner only three), so run-api's relay can deliver any of them.

Revision ID: 0005
Revises: 0004_users_role_pinned
Create Date: 2026-11-30 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004_users_role_pinned"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Topic -> the app that may publish it whoever wrote it (the producers as of this
# revision: run-api publishes every topic, agent-runner a subset of them).
PRODUCER_OF = {
    "run-requested": "run-api",
    "run-cancel-requested": "run-api",
    "run-events": "run-api",
    "pr-requested": "run-api",
}


def upgrade() -> None:
    """Add the column, fill it for waiting rows, require it, index pending rows by it."""
    op.add_column("outbox", sa.Column("source", sa.Text(), nullable=True))
    for topic, app in PRODUCER_OF.items():
        op.execute(
            sa.text("UPDATE outbox SET source = :app WHERE topic = :topic").bindparams(
                app=app, topic=topic
            )
        )
    op.alter_column("outbox", "source", nullable=False)
    op.drop_index("ix_outbox_pending", table_name="outbox")
    op.create_index(
        "ix_outbox_pending",
        "outbox",
        ["source", "available_at"],
        postgresql_where=sa.text("sent_at IS NULL"),
    )


def downgrade() -> None:
    """Drop the column and index pending rows by due time alone again."""
    op.drop_index("ix_outbox_pending", table_name="outbox")
    op.create_index(
        "ix_outbox_pending", "outbox", ["available_at"], postgresql_where=sa.text("sent_at IS NULL")
    )
    op.drop_column("outbox", "source")
