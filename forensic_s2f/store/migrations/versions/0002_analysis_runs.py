"""Analysis runs: analysis_run, run_evidence, speaker, segment (the last three append-only).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

IMMUTABLE_TABLES = ("run_evidence", "speaker", "segment")


def upgrade() -> None:
    op.create_table(
        "analysis_run",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(64), sa.ForeignKey("case.id"), nullable=False, index=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("parameters_json", sa.Text, nullable=False),
        sa.Column("evidence_ids_json", sa.Text, nullable=False),
        sa.Column("started_utc", sa.String(32), nullable=False),
        sa.Column("ended_utc", sa.String(32), nullable=True),
        sa.Column("examiner", sa.Text, nullable=False),
        sa.Column("error", sa.Text, nullable=False),
    )
    op.create_table(
        "run_evidence",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("analysis_run.id"), nullable=False, index=True),
        sa.Column("evidence_id", sa.Integer, sa.ForeignKey("evidence.id"), nullable=False),
        sa.Column("quality_json", sa.Text, nullable=False),
        sa.Column("warnings_json", sa.Text, nullable=False),
        sa.Column("speaker_count", sa.Integer, nullable=False),
        sa.UniqueConstraint("run_id", "evidence_id", name="uq_run_evidence"),
    )
    op.create_table(
        "speaker",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("analysis_run.id"), nullable=False, index=True),
        sa.Column("evidence_id", sa.Integer, sa.ForeignKey("evidence.id"), nullable=False),
        sa.Column("label", sa.String(64), nullable=False),
        sa.Column("speech_seconds", sa.Float, nullable=False),
        sa.Column("segment_count", sa.Integer, nullable=False),
        sa.Column("prediction_json", sa.Text, nullable=False),
        sa.Column("quality_json", sa.Text, nullable=False),
        sa.Column("warnings_json", sa.Text, nullable=False),
        sa.Column("artifacts_json", sa.Text, nullable=False),
    )
    op.create_table(
        "segment",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("analysis_run.id"), nullable=False, index=True),
        sa.Column("evidence_id", sa.Integer, sa.ForeignKey("evidence.id"), nullable=False),
        sa.Column("speaker_label", sa.String(64), nullable=False),
        sa.Column("start_seconds", sa.Float, nullable=False),
        sa.Column("end_seconds", sa.Float, nullable=False),
    )
    for table in IMMUTABLE_TABLES:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f'CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON "{table}" '
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )
