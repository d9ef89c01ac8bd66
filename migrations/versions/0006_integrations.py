"""integrations: run submissions by CloudEvent id, dead-letter reasons, outgoing webhooks

`run_submissions` remembers every `run-submissions` message run-api took (accepted or
refused), so a redelivery or a duplicate creates nothing; `dead_letters.reason` says why
a consumer refused a message (NULL where the retries gave up on it). `webhook_endpoints`
are what Admins register (run-api); `webhook_deliveries` are the webhooks' outbox and
delivery log, written by whichever service announces a change (run-api, agent-runner)
and sent by run-api.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create run_submissions (run-api reads and writes it) and add dead_letters.reason."""
    op.add_column("dead_letters", sa.Column("reason", sa.Text(), nullable=True))
    op.create_table(
        "run_submissions",
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("submitted_as", sa.Text(), nullable=True),
        sa.Column("task_id", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name="fk_run_submissions_task_id_tasks"),
        sa.PrimaryKeyConstraint("event_id", name="pk_run_submissions"),
    )
    _create_webhook_tables()
    for statement in GRANTS:
        op.execute(statement)


GRANTS = (
    "GRANT SELECT, INSERT, UPDATE ON TABLE run_submissions TO dursor_run_api",
    "GRANT SELECT, INSERT, UPDATE ON TABLE webhook_endpoints TO dursor_run_api",
    "GRANT SELECT, INSERT, UPDATE ON TABLE webhook_deliveries TO dursor_run_api",
    "GRANT USAGE ON SEQUENCE webhook_deliveries_id_seq TO dursor_run_api",
    "GRANT SELECT ON TABLE webhook_endpoints TO dursor_agent_runner",
    "GRANT INSERT ON TABLE webhook_deliveries TO dursor_agent_runner",
    "GRANT USAGE ON SEQUENCE webhook_deliveries_id_seq TO dursor_agent_runner",
)


def _create_webhook_tables() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("event_types", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("secret_key_id", sa.Text(), nullable=False),
        sa.Column("secret_nonce", sa.LargeBinary(), nullable=False),
        sa.Column("secret_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_endpoints"),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("endpoint_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("message_id", sa.Text(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("order_key", sa.Text(), nullable=False),
        sa.Column("payload", postgresql.JSONB(), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'dead')", name="ck_webhook_deliveries_status"
        ),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["webhook_endpoints.id"],
            name="fk_webhook_deliveries_endpoint_id_webhook_endpoints",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_deliveries"),
        sa.UniqueConstraint(
            "endpoint_id", "message_id", name="uq_webhook_deliveries_endpoint_id_message_id"
        ),
    )
    op.create_index(
        "ix_webhook_deliveries_pending",
        "webhook_deliveries",
        ["endpoint_id", "order_key", "id"],
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    """Drop the webhook tables, run_submissions and dead_letters.reason."""
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_endpoints")
    op.drop_table("run_submissions")
    op.drop_column("dead_letters", "reason")
