"""Initial schema: case, evidence, custody_event (append-only), activity, artifact.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

IMMUTABLE_TABLES = ("case", "evidence", "custody_event", "artifact")


def upgrade() -> None:
    op.create_table(
        "case",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("created_utc", sa.String(32), nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
    )
    op.create_table(
        "evidence",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(64), sa.ForeignKey("case.id"), nullable=False, index=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.Integer, nullable=False),
        sa.Column("original_filename", sa.Text, nullable=False),
        sa.Column("original_path", sa.Text, nullable=False),
        sa.Column("media_type", sa.String(64), nullable=False),
        sa.Column("codec", sa.String(64), nullable=False),
        sa.Column("sample_rate_hz", sa.Integer, nullable=False),
        sa.Column("channels", sa.Integer, nullable=False),
        sa.Column("duration_seconds", sa.Float, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("examiner", sa.Text, nullable=False),
        sa.Column("ingested_utc", sa.String(32), nullable=False),
        sa.UniqueConstraint("case_id", "sha256", name="uq_evidence_case_sha256"),
    )
    op.create_table(
        "custody_event",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(64), sa.ForeignKey("case.id"), nullable=False, index=True),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("ts_utc", sa.String(32), nullable=False),
        sa.Column("examiner", sa.Text, nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("object_kind", sa.String(32), nullable=False),
        sa.Column("object_id", sa.Text, nullable=False),
        sa.Column("object_sha256", sa.String(64), nullable=False),
        sa.Column("details_json", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
        sa.UniqueConstraint("case_id", "seq", name="uq_custody_case_seq"),
    )
    op.create_table(
        "activity",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(64), sa.ForeignKey("case.id"), nullable=False, index=True),
        sa.Column("run_id", sa.Integer, nullable=True, index=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("parameters_json", sa.Text, nullable=False),
        sa.Column("software_json", sa.Text, nullable=False),
        sa.Column("model_name", sa.Text, nullable=False),
        sa.Column("model_sha256", sa.String(64), nullable=False),
        sa.Column("inputs_json", sa.Text, nullable=False),
        sa.Column("outputs_json", sa.Text, nullable=False),
        sa.Column("started_utc", sa.String(32), nullable=False),
        sa.Column("ended_utc", sa.String(32), nullable=True),
        sa.Column("examiner", sa.Text, nullable=False),
        sa.Column("host", sa.Text, nullable=False),
    )
    op.create_table(
        "artifact",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(64), sa.ForeignKey("case.id"), nullable=False, index=True),
        sa.Column("activity_id", sa.Integer, sa.ForeignKey("activity.id"), nullable=False, index=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.Integer, nullable=False),
        sa.Column("media_type", sa.String(64), nullable=False),
        sa.Column("created_utc", sa.String(32), nullable=False),
    )
    for table in IMMUTABLE_TABLES:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f'CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON "{table}" '
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )
