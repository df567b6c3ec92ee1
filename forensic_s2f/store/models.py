"""The SQLite schema as SQLAlchemy 2.0 ORM classes. Times are ISO-8601 UTC strings.

The migrations in `store/migrations/versions/` create exactly these tables; a test
checks that the two agree.
"""

from __future__ import annotations

from sqlalchemy import Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Case(Base):
    """One investigation. Immutable once created (a trigger refuses UPDATE/DELETE)."""

    __tablename__ = "case"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(Text, default="")
    created_utc: Mapped[str] = mapped_column(String(32))
    created_by: Mapped[str] = mapped_column(Text)


class Evidence(Base):
    """An evidential recording: its original bytes live in the vault under `sha256`."""

    __tablename__ = "evidence"
    __table_args__ = (UniqueConstraint("case_id", "sha256", name="uq_evidence_case_sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    original_filename: Mapped[str] = mapped_column(Text)
    original_path: Mapped[str] = mapped_column(Text)
    media_type: Mapped[str] = mapped_column(String(64))
    codec: Mapped[str] = mapped_column(String(64))
    sample_rate_hz: Mapped[int] = mapped_column(Integer)
    channels: Mapped[int] = mapped_column(Integer)
    duration_seconds: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(Text, default="")
    note: Mapped[str] = mapped_column(Text, default="")
    examiner: Mapped[str] = mapped_column(Text)
    ingested_utc: Mapped[str] = mapped_column(String(32))


class CustodyEvent(Base):
    """One link of a case's hash chain. Append-only (triggers refuse UPDATE and DELETE)."""

    __tablename__ = "custody_event"
    __table_args__ = (UniqueConstraint("case_id", "seq", name="uq_custody_case_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    ts_utc: Mapped[str] = mapped_column(String(32))
    examiner: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(32))
    object_kind: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(Text)
    object_sha256: Mapped[str] = mapped_column(String(64), default="")
    details_json: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))


class Activity(Base):
    """Provenance of one processing step: what ran, on what, with which parameters."""

    __tablename__ = "activity"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"), index=True)
    run_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    kind: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    parameters_json: Mapped[str] = mapped_column(Text, default="{}")
    software_json: Mapped[str] = mapped_column(Text, default="{}")
    model_name: Mapped[str] = mapped_column(Text, default="")
    model_sha256: Mapped[str] = mapped_column(String(64), default="")
    inputs_json: Mapped[str] = mapped_column(Text, default="[]")
    outputs_json: Mapped[str] = mapped_column(Text, default="[]")
    started_utc: Mapped[str] = mapped_column(String(32))
    ended_utc: Mapped[str | None] = mapped_column(String(32), nullable=True)
    examiner: Mapped[str] = mapped_column(Text)
    host: Mapped[str] = mapped_column(Text)


class Artifact(Base):
    """A derived file (denoised audio, RTTM, face image, report) kept in the vault by sha256."""

    __tablename__ = "artifact"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"), index=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id"), index=True)
    kind: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    media_type: Mapped[str] = mapped_column(String(64))
    created_utc: Mapped[str] = mapped_column(String(32))


class AnalysisRun(Base):
    """One `fs2f case analyze` invocation. Status 'running' after a kill means interrupted."""

    __tablename__ = "analysis_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    parameters_json: Mapped[str] = mapped_column(Text)
    evidence_ids_json: Mapped[str] = mapped_column(Text)
    started_utc: Mapped[str] = mapped_column(String(32))
    ended_utc: Mapped[str | None] = mapped_column(String(32), nullable=True)
    examiner: Mapped[str] = mapped_column(Text)
    error: Mapped[str] = mapped_column(Text, default="")


class RunEvidence(Base):
    """What a run found in one evidence file: quality, warnings, the diarization artifact."""

    __tablename__ = "run_evidence"
    __table_args__ = (UniqueConstraint("run_id", "evidence_id", name="uq_run_evidence"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("analysis_run.id"), index=True)
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence.id"))
    quality_json: Mapped[str] = mapped_column(Text)
    warnings_json: Mapped[str] = mapped_column(Text)
    speaker_count: Mapped[int] = mapped_column(Integer)


class Speaker(Base):
    """One diarized speaker of one evidence file in one run, with its voice-to-face estimate."""

    __tablename__ = "speaker"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("analysis_run.id"), index=True)
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence.id"))
    label: Mapped[str] = mapped_column(String(64))
    speech_seconds: Mapped[float] = mapped_column(Float)
    segment_count: Mapped[int] = mapped_column(Integer)
    prediction_json: Mapped[str] = mapped_column(Text)
    quality_json: Mapped[str] = mapped_column(Text)
    warnings_json: Mapped[str] = mapped_column(Text)
    artifacts_json: Mapped[str] = mapped_column(Text)


class Segment(Base):
    """A stretch of speech by one speaker, in seconds from the start of the evidence file."""

    __tablename__ = "segment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("analysis_run.id"), index=True)
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence.id"))
    speaker_label: Mapped[str] = mapped_column(String(64))
    start_seconds: Mapped[float] = mapped_column(Float)
    end_seconds: Mapped[float] = mapped_column(Float)
