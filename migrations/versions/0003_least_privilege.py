"""least privilege: an append-only event log and one database role per service

`run_events` refuses DELETE and TRUNCATE as it already refused UPDATE. Each service
connects as a login role that is a member of its group role here (`dursor_run_api`,
`dursor_agent_runner`, `dursor_events_gateway`, `dursor_auth`), which holds only the
table privileges that service's code uses. The group roles cannot log in; the local
bootstrap, the test harness and the Azure deployment give them members with passwords
or Entra identities. This migration runs as the schema owner, which keeps every other
right (DDL, TRUNCATE, the Alembic version table).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 09:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Privileges as of this revision: role -> table -> privileges. A later migration that
# adds a table grants it there (tests/project/integration/test_database_roles.py checks every
# table has an entry in the expected matrix).
VERIFIER = {"users": "SELECT", "api_tokens": "SELECT"}
GRANTS: dict[str, dict[str, str]] = {
    "dursor_run_api": {
        "repos": "SELECT, INSERT",
        "tasks": "SELECT, INSERT",
        "runs": "SELECT, INSERT, UPDATE",
        "run_attempts": "SELECT",
        "messages": "SELECT, INSERT",
        "model_profiles": "SELECT, INSERT, UPDATE",
        "pull_requests": "SELECT, INSERT, UPDATE",
        "idempotency_keys": "SELECT, INSERT, UPDATE, DELETE",
        "dead_letters": "SELECT, INSERT",
        "run_events": "SELECT, INSERT",
        "outbox": "SELECT, INSERT, UPDATE, DELETE",
        **VERIFIER,
    },
    "dursor_agent_runner": {
        "repos": "SELECT",
        "tasks": "SELECT",
        "runs": "SELECT, UPDATE",
        "run_attempts": "SELECT, INSERT, UPDATE",
        "messages": "SELECT",
        "model_profiles": "SELECT",
        "pull_requests": "SELECT, UPDATE",
        "run_events": "INSERT",
        "outbox": "SELECT, INSERT, UPDATE, DELETE",
    },
    "dursor_events_gateway": {
        "tasks": "SELECT",
        "runs": "SELECT",
        "run_events": "SELECT",
        **VERIFIER,
    },
    "dursor_auth": {
        "users": "SELECT, INSERT, UPDATE",
        "api_tokens": "SELECT, INSERT, UPDATE",
    },
}
# Identity columns draw from these sequences on INSERT.
SEQUENCES = {"outbox": "outbox_id_seq", "dead_letters": "dead_letters_id_seq"}

# Cluster-wide: another database on the same server may have created the role already
# (concurrently, too), which is fine.
CREATE_ROLE = """
DO $$
BEGIN
  CREATE ROLE {role} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
  NULL;
END
$$;
"""


def _grant(role: str, table: str, privileges: str) -> None:
    op.execute(f"GRANT {privileges} ON TABLE {table} TO {role}")
    if table in SEQUENCES and "INSERT" in privileges:
        op.execute(f"GRANT USAGE ON SEQUENCE {SEQUENCES[table]} TO {role}")


def upgrade() -> None:
    """Refuse DELETE/TRUNCATE of events; create the service roles and their grants."""
    op.execute(
        "CREATE TRIGGER run_events_no_delete BEFORE DELETE ON run_events "
        "FOR EACH ROW EXECUTE FUNCTION dursor_run_events_append_only()"
    )
    op.execute(
        "CREATE TRIGGER run_events_no_truncate BEFORE TRUNCATE ON run_events "
        "FOR EACH STATEMENT EXECUTE FUNCTION dursor_run_events_append_only()"
    )
    for role, tables in GRANTS.items():
        op.execute(CREATE_ROLE.format(role=role))
        op.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
        for table, privileges in tables.items():
            _grant(role, table, privileges)


def downgrade() -> None:
    """Revoke what this database granted (the roles stay: other databases may use them)."""
    for role, tables in GRANTS.items():
        for table in tables:
            op.execute(f"REVOKE ALL ON TABLE {table} FROM {role}")
            if table in SEQUENCES:
                op.execute(f"REVOKE ALL ON SEQUENCE {SEQUENCES[table]} FROM {role}")
        op.execute(f"REVOKE USAGE ON SCHEMA public FROM {role}")
    op.execute("DROP TRIGGER run_events_no_truncate ON run_events")
    op.execute("DROP TRIGGER run_events_no_delete ON run_events")
