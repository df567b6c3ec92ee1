"""Guard analysis_run and activity rows: they change once, when a running step ends (its status
changes from 'running', with its end time, error or outputs), and are never deleted.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# the columns each table's end may not change
FIXED_COLUMNS = {
    "analysis_run": ("id", "case_id", "parameters_json", "evidence_ids_json", "started_utc", "examiner"),
    "activity": ("id", "case_id", "run_id", "kind", "parameters_json", "software_json", "model_name", "model_sha256",
                 "inputs_json", "started_utc", "examiner", "host"),
}


def upgrade() -> None:
    for table, columns in FIXED_COLUMNS.items():
        changed = " OR ".join(f"NEW.{column} IS NOT OLD.{column}" for column in columns)
        op.execute(
            f'CREATE TRIGGER {table}_no_update BEFORE UPDATE ON "{table}" '
            f"WHEN OLD.status != 'running' OR NEW.status = 'running' OR {changed} "
            f"BEGIN SELECT RAISE(ABORT, '{table} rows change only when a running step ends'); END"
        )
        op.execute(
            f'CREATE TRIGGER {table}_no_delete BEFORE DELETE ON "{table}" '
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
        )


def downgrade() -> None:
    for table in FIXED_COLUMNS:
        op.execute(f"DROP TRIGGER {table}_no_update")
        op.execute(f"DROP TRIGGER {table}_no_delete")
