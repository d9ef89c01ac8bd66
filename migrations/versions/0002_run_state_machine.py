"""run state machine enforced by the database

Every service writes run status with compare-and-set updates; these triggers make an
illegal transition impossible for any writer, not merely unlikely.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 17:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRANSITION_ALLOWED = """
CREATE FUNCTION dursor_run_transition_allowed(
    old_status text, new_status text,
    old_turn int, new_turn int,
    old_attempt int, new_attempt int
) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE
    -- same state: bookkeeping (lease renewal, counters) within one attempt
    WHEN old_status = new_status
      THEN new_turn = old_turn AND new_attempt = old_attempt
    WHEN old_status = 'queued' AND new_status IN ('running', 'cancelled', 'failed')
      THEN new_turn = old_turn AND new_attempt = old_attempt
    WHEN old_status = 'running' AND new_status IN ('succeeded', 'failed', 'cancelled', 'timed_out')
      THEN new_turn = old_turn AND new_attempt = old_attempt
    -- a lost lease: the same turn is retried as the next attempt
    WHEN old_status = 'running' AND new_status = 'queued'
      THEN new_turn = old_turn AND new_attempt = old_attempt + 1
    -- a follow-up message: the next turn starts at attempt 1
    WHEN old_status IN ('succeeded', 'failed', 'cancelled', 'timed_out') AND new_status = 'queued'
      THEN new_turn = old_turn + 1 AND new_attempt = 1
    ELSE false
  END
$$;
"""

RUNS_GUARD = """
CREATE FUNCTION dursor_runs_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF NEW.status <> 'queued' OR NEW.turn <> 1 OR NEW.attempt <> 1 THEN
      RAISE EXCEPTION 'a run starts queued at turn 1, attempt 1 (got %, %, %)',
        NEW.status, NEW.turn, NEW.attempt USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
  END IF;
  IF NOT dursor_run_transition_allowed(OLD.status, NEW.status, OLD.turn, NEW.turn,
                                       OLD.attempt, NEW.attempt) THEN
    RAISE EXCEPTION 'illegal run transition % -> % (turn % -> %, attempt % -> %)',
      OLD.status, NEW.status, OLD.turn, NEW.turn, OLD.attempt, NEW.attempt
      USING ERRCODE = 'check_violation';
  END IF;
  IF NEW.last_seq < OLD.last_seq THEN
    RAISE EXCEPTION 'run event numbering cannot go back (% -> %)', OLD.last_seq, NEW.last_seq
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END
$$;
"""

ATTEMPTS_GUARD = """
CREATE FUNCTION dursor_run_attempts_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF NEW.status <> 'running' THEN
      RAISE EXCEPTION 'an attempt starts running (got %)', NEW.status
        USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
  END IF;
  IF OLD.status <> NEW.status AND NOT (
       OLD.status = 'running'
       AND NEW.status IN ('succeeded', 'failed', 'cancelled', 'timed_out')) THEN
    RAISE EXCEPTION 'illegal attempt transition % -> %', OLD.status, NEW.status
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END
$$;
"""

EVENTS_APPEND_ONLY = """
CREATE FUNCTION dursor_run_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the run event log is append-only' USING ERRCODE = 'check_violation';
END
$$;
"""


def upgrade() -> None:
    """Install the transition functions and their triggers."""
    op.execute(TRANSITION_ALLOWED)
    op.execute(RUNS_GUARD)
    op.execute(ATTEMPTS_GUARD)
    op.execute(EVENTS_APPEND_ONLY)
    op.execute(
        "CREATE TRIGGER runs_state_machine BEFORE INSERT OR UPDATE ON runs "
        "FOR EACH ROW EXECUTE FUNCTION dursor_runs_guard()"
    )
    op.execute(
        "CREATE TRIGGER run_attempts_state_machine BEFORE INSERT OR UPDATE ON run_attempts "
        "FOR EACH ROW EXECUTE FUNCTION dursor_run_attempts_guard()"
    )
    op.execute(
        "CREATE TRIGGER run_events_append_only BEFORE UPDATE ON run_events "
        "FOR EACH ROW EXECUTE FUNCTION dursor_run_events_append_only()"
    )


def downgrade() -> None:
    """Remove the triggers and their functions."""
    op.execute("DROP TRIGGER run_events_append_only ON run_events")
    op.execute("DROP TRIGGER run_attempts_state_machine ON run_attempts")
    op.execute("DROP TRIGGER runs_state_machine ON runs")
    op.execute("DROP FUNCTION dursor_run_events_append_only()")
    op.execute("DROP FUNCTION dursor_run_attempts_guard()")
    op.execute("DROP FUNCTION dursor_runs_guard()")
    op.execute("DROP FUNCTION dursor_run_transition_allowed(text, text, int, int, int, int)")
