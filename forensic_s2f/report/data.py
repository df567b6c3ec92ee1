"""Everything a report shows, read from the case store into plain dataclasses.

Reading only: nothing here writes to the store. Artifact bytes read from the vault are
re-hashed against their recorded SHA-256, and the case must pass verification, so a report
is never built on altered data.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from forensic_s2f.errors import StoreError
from forensic_s2f.store.case_store import CaseStore, repeat_receipts, resolved_paths
from forensic_s2f.store.models import Evidence

SPEAKER_IMAGE_KINDS = ("face", "uncertainty", "members")


@dataclass(frozen=True)
class EvidenceItem:
    """One evidential recording as ingested (sizes in bytes, durations in seconds, times UTC)."""

    id: int
    filename: str
    original_path: str
    size_bytes: int
    sha256: str
    media_type: str
    codec: str
    sample_rate_hz: int
    channels: int
    duration_seconds: float
    ingested_utc: str
    examiner: str
    source: str
    note: str
    received_again: tuple[dict[str, Any], ...] = ()  # later receipts of the same bytes (see store.case_store.repeat_receipts)
    resolved_path: str | None = None  # the file read, where the path given led elsewhere (see store.case_store.resolved_paths)


@dataclass(frozen=True)
class SpeakerFindings:
    """One diarized speaker; `images` maps face/uncertainty/members to PNG bytes (absent if none)."""

    evidence_id: int
    label: str
    speech_seconds: float
    segment_count: int
    prediction: dict[str, Any]
    quality: dict[str, Any]
    warnings: list[str]
    images: dict[str, bytes] = field(default_factory=dict)
    image_sha256: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class EvidenceFindings:
    """What the run found in one recording: quality, warnings, segments (label, start s, end s)."""

    evidence: EvidenceItem
    quality: dict[str, Any]
    warnings: list[str]
    segments: list[tuple[str, float, float]]
    speakers: list[SpeakerFindings]


@dataclass(frozen=True)
class ActivityRecord:
    """One processing step of the run, as recorded in the provenance tables."""

    id: int
    kind: str
    status: str
    started_utc: str
    ended_utc: str | None
    examiner: str
    host: str
    parameters: dict[str, Any]
    software: dict[str, str]
    model_name: str
    model_sha256: str
    inputs: list[Any]
    outputs: list[Any]


@dataclass(frozen=True)
class CustodyEntry:
    """One event of the case's hash-chained custody log; `details` is its canonical JSON."""

    seq: int
    ts_utc: str
    examiner: str
    action: str
    object_kind: str
    object_id: str
    object_sha256: str
    details: str
    prev_hash: str
    entry_hash: str


@dataclass(frozen=True)
class RunInfo:
    id: int
    status: str
    started_utc: str
    ended_utc: str | None
    examiner: str
    parameters: dict[str, Any]
    evidence_ids: list[int]

    @property
    def options(self) -> dict[str, Any]:
        """The options the examiner gave `case analyze` (speaker count, denoise), as recorded."""
        return self.parameters.get("options", {})


@dataclass(frozen=True)
class ReportData:
    """A case, one completed run of it, and the custody log as it stood when read."""

    case_id: str
    case_title: str
    case_created_utc: str
    case_created_by: str
    evidence: list[EvidenceItem]
    run: RunInfo
    findings: list[EvidenceFindings]
    activities: list[ActivityRecord]
    custody: list[CustodyEntry]
    log_head: str
    vault_objects_verified: int  # evidence and artifact records checked against the vault
    vault_files_verified: int  # distinct files among them (identical bytes are stored once)
    other_runs: tuple[tuple[int, str], ...] = ()  # the case's other runs (id, status) when the report is written

    @property
    def speakers(self) -> list[SpeakerFindings]:
        return [speaker for item in self.findings for speaker in item.speakers]


def _evidence_item(row: Evidence, received_again: list[dict[str, Any]], resolved_path: str | None) -> EvidenceItem:
    return EvidenceItem(
        id=row.id, filename=row.original_filename, original_path=row.original_path, size_bytes=row.size_bytes, sha256=row.sha256,
        media_type=row.media_type, codec=row.codec, sample_rate_hz=row.sample_rate_hz, channels=row.channels,
        duration_seconds=row.duration_seconds, ingested_utc=row.ingested_utc, examiner=row.examiner,
        source=row.source, note=row.note, received_again=tuple(received_again), resolved_path=resolved_path,
    )


def gather_report_data(store: CaseStore, case_id: str, run_id: int | None = None) -> ReportData:
    """Read the case, the given (default: latest completed) run and the custody log.

    Raises StoreError for an unknown case, a case never analysed, a run that did not
    complete, or a case that fails verification. Everything is read in one snapshot of the
    store, the verification included: the report holds the rows that were verified, whatever
    is written while it is made.
    """
    with store.snapshot():
        return _gathered(store, case_id, run_id)


def _gathered(store: CaseStore, case_id: str, run_id: int | None) -> ReportData:
    run = store.completed_run(case_id, run_id)
    store.require_verified(case_id)
    summary = store.case_summary(case_id)
    events = store.custody_log(case_id)
    receipts, resolved = repeat_receipts(events), resolved_paths(events)
    evidence = [_evidence_item(row, receipts.get(row.id, []), resolved.get(row.id)) for row in store.evidence(case_id)]
    by_id = {item.id: item for item in evidence}
    artifacts = {artifact.id: artifact for artifact in store.artifacts(case_id)}
    results = []
    for result in store.run_results(run.id):
        speakers = []
        for speaker in result.speakers:
            images, hashes = {}, {}
            for kind in SPEAKER_IMAGE_KINDS:
                artifact = artifacts.get(speaker.artifacts.get(kind, -1))
                if artifact is None:
                    continue
                data = store.artifact_bytes(artifact)
                if hashlib.sha256(data).hexdigest() != artifact.sha256:
                    raise StoreError(f"artifact {artifact.id} ({artifact.label}) no longer matches its SHA-256; "
                                     f"run `fs2f audit verify {case_id}`")
                images[kind], hashes[kind] = data, artifact.sha256
            speakers.append(SpeakerFindings(
                evidence_id=result.evidence_id, label=speaker.label, speech_seconds=speaker.speech_seconds,
                segment_count=speaker.segment_count, prediction=speaker.prediction, quality=speaker.quality,
                warnings=list(speaker.warnings), images=images, image_sha256=hashes,
            ))
        results.append(EvidenceFindings(
            evidence=by_id[result.evidence_id], quality=result.quality, warnings=list(result.warnings),
            segments=[(label, float(start), float(end)) for label, start, end in result.segments], speakers=speakers,
        ))
    activities = [
        ActivityRecord(
            id=a.id, kind=a.kind, status=a.status, started_utc=a.started_utc, ended_utc=a.ended_utc,
            examiner=a.examiner, host=a.host, parameters=json.loads(a.parameters_json),
            software=json.loads(a.software_json), model_name=a.model_name, model_sha256=a.model_sha256,
            inputs=json.loads(a.inputs_json), outputs=json.loads(a.outputs_json),
        )
        for a in store.activities(case_id, run.id)
    ]
    custody = [
        CustodyEntry(
            seq=e.seq, ts_utc=e.ts_utc, examiner=e.examiner, action=e.action, object_kind=e.object_kind,
            object_id=e.object_id, object_sha256=e.object_sha256, details=e.details_json,
            prev_hash=e.prev_hash, entry_hash=e.entry_hash,
        )
        for e in events
    ]
    return ReportData(
        case_id=summary.case.id, case_title=summary.case.title, case_created_utc=summary.case.created_utc,
        case_created_by=summary.case.created_by, evidence=evidence,
        run=RunInfo(id=run.id, status=run.status, started_utc=run.started_utc, ended_utc=run.ended_utc,
                    examiner=run.examiner, parameters=json.loads(run.parameters_json),
                    evidence_ids=json.loads(run.evidence_ids_json)),
        findings=results, activities=activities, custody=custody,
        log_head=custody[-1].entry_hash if custody else summary.head_hash,
        vault_objects_verified=len(evidence) + len(artifacts),
        vault_files_verified=len({item.sha256 for item in evidence} | {a.sha256 for a in artifacts.values()}),
        other_runs=tuple((other.id, other.status) for other in store.runs(case_id) if other.id != run.id),
    )
