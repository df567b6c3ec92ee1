"""Analysis runs in the store: a run per `fs2f case analyze`, its per-evidence results,
speakers and segments. Plain dataclasses in, ORM rows out; every write is logged."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from forensic_s2f.errors import StoreError
from forensic_s2f.store import custody
from forensic_s2f.store.custody import canonical_json, utc_now
from forensic_s2f.store.integrity import RESULT_DIGEST, result_digest
from forensic_s2f.store.models import AnalysisRun, RunEvidence, Segment, Speaker


@dataclass
class SpeakerResult:
    """One speaker's findings; `artifacts` maps a name (face, uncertainty, …) to an artifact id."""

    label: str
    speech_seconds: float
    segment_count: int
    prediction: dict[str, Any]
    quality: dict[str, Any]
    warnings: list[str]
    artifacts: dict[str, int] = field(default_factory=dict)


@dataclass
class EvidenceResult:
    """A run's findings on one evidence file; segments are (speaker label, start s, end s)."""

    evidence_id: int
    quality: dict[str, Any]
    warnings: list[str]
    segments: list[tuple[str, float, float]]
    speakers: list[SpeakerResult]


def shown_status(status: str) -> str:
    """A run's status as shown to people: 'running' is also what a killed run is left as."""
    return "running or interrupted" if status == "running" else status


class RunRecords:
    """Mixed into CaseStore: the analysis-run tables."""

    def start_run(self, case_id: str, examiner: str, parameters: dict[str, Any], evidence_ids: list[int]) -> AnalysisRun:
        with self._write() as (db, _):
            self.get_case(db, case_id)
            run = AnalysisRun(
                case_id=case_id, status="running", parameters_json=canonical_json(parameters),
                evidence_ids_json=canonical_json(evidence_ids), started_utc=utc_now(), ended_utc=None,
                examiner=examiner, error="",
            )
            db.add(run)
            db.flush()
            custody.append(db, case_id, examiner, "analysis-start", "run", str(run.id),
                           details={"parameters": parameters, "evidence_ids": evidence_ids,
                                    "started_utc": run.started_utc})
            return run

    def record_result(self, run_id: int, examiner: str, result: EvidenceResult) -> RunEvidence:
        """Store one evidence file's findings; the SHA-256 of the canonical JSON of the findings
        as stored (times rounded to the millisecond) goes into the log, so `audit verify` can
        recompute it from the rows."""
        result = stored_form(result)
        with self._write() as (db, _):
            run = self._run(db, run_id)
            row = RunEvidence(
                run_id=run_id, evidence_id=result.evidence_id, quality_json=canonical_json(result.quality),
                warnings_json=canonical_json(result.warnings), speaker_count=len(result.speakers),
            )
            db.add(row)
            for label, start, end in result.segments:
                db.add(Segment(run_id=run_id, evidence_id=result.evidence_id, speaker_label=label,
                               start_seconds=start, end_seconds=end))
            for speaker in result.speakers:
                db.add(Speaker(
                    run_id=run_id, evidence_id=result.evidence_id, label=speaker.label,
                    speech_seconds=speaker.speech_seconds, segment_count=speaker.segment_count,
                    prediction_json=canonical_json(speaker.prediction), quality_json=canonical_json(speaker.quality),
                    warnings_json=canonical_json(speaker.warnings), artifacts_json=canonical_json(speaker.artifacts),
                ))
            db.flush()
            custody.append(db, run.case_id, examiner, "analysis-result", "run", str(run_id), result_digest(result),
                           details={"evidence_id": result.evidence_id, "speakers": len(result.speakers),
                                    "segments": len(result.segments), "warnings": result.warnings,
                                    "digest": RESULT_DIGEST})
            return row

    def finish_run(self, run_id: int, examiner: str, status: str, error: str = "") -> AnalysisRun:
        with self._write() as (db, _):
            run = self._run(db, run_id)
            run.status, run.error, run.ended_utc = status, error, utc_now()
            custody.append(db, run.case_id, examiner, "analysis-end", "run", str(run_id),
                           details={"status": status, "error": error, "ended_utc": run.ended_utc})
            return run

    def _run(self, db, run_id: int) -> AnalysisRun:
        run = db.get(AnalysisRun, run_id)
        if run is None:
            raise StoreError(f"no analysis run {run_id}")
        return run

    def runs(self, case_id: str) -> list[AnalysisRun]:
        with self._read() as db:
            self.get_case(db, case_id)
            return list(db.scalars(select(AnalysisRun).where(AnalysisRun.case_id == case_id).order_by(AnalysisRun.id)))

    def run(self, case_id: str, run_id: int | None = None) -> AnalysisRun:
        """A run of the case: the given one, else the latest completed one."""
        runs = self.runs(case_id)
        if run_id is not None:
            chosen = [r for r in runs if r.id == run_id]
            if not chosen:
                raise StoreError(f"case {case_id!r} has no analysis run {run_id}")
            return chosen[0]
        completed = [r for r in runs if r.status == "completed"]
        if not completed:
            raise StoreError(f"case {case_id!r} has no completed analysis: run `fs2f case analyze {case_id}` first")
        return completed[-1]

    def completed_run(self, case_id: str, run_id: int | None = None) -> AnalysisRun:
        """Like `run`, but a run that failed or never finished (its results are partial) is a
        StoreError: reports and exports are made of completed runs only."""
        run = self.run(case_id, run_id)
        if run.status != "completed":
            raise StoreError(f"run {run.id} of case {case_id!r} is {run.status}, not completed: "
                             "reports and exports are made of completed runs")
        return run

    def run_results(self, run_id: int) -> list[EvidenceResult]:
        """A run's findings per evidence file, as the plain dataclasses they were recorded from."""
        with self._read() as db:
            found, _, _ = stored_results(db, [run_id])
        return [result for _, result in sorted(found.items())]


def stored_form(result: EvidenceResult) -> EvidenceResult:
    """The findings exactly as the store keeps and gives them back: times and seconds rounded to
    the millisecond, JSON values as parsed back from their canonical JSON."""
    parsed = lambda value: json.loads(canonical_json(value))  # noqa: E731
    return EvidenceResult(
        evidence_id=int(result.evidence_id), quality=parsed(result.quality), warnings=parsed(result.warnings),
        segments=[(str(label), _seconds(start), _seconds(end)) for label, start, end in result.segments],
        speakers=[
            SpeakerResult(
                label=str(s.label), speech_seconds=_seconds(s.speech_seconds), segment_count=int(s.segment_count),
                prediction=parsed(s.prediction), quality=parsed(s.quality), warnings=parsed(s.warnings),
                artifacts=parsed(s.artifacts),
            )
            for s in result.speakers
        ],
    )


def _seconds(value: float) -> float:
    """A time as stored: to the millisecond, -0.0 as 0.0 (SQLite keeps no sign of zero); a time
    that is not a finite number is a StoreError (SQLite would keep NaN as NULL)."""
    seconds = float(value)
    if not math.isfinite(seconds):
        raise StoreError(f"a time of {seconds} s cannot be recorded")
    return round(seconds, 3) + 0.0


def stored_results(db: Session, run_ids: list[int]) -> tuple[dict[tuple[int, int], EvidenceResult], list[tuple[int, int]],
                                                             dict[tuple[int, int], int]]:
    """The stored findings of the runs, by (run id, evidence id); the (run id, evidence id) pairs
    that have speaker or segment rows but no findings row; and the speaker count each findings
    row keeps."""
    rows = list(db.scalars(select(RunEvidence).where(RunEvidence.run_id.in_(run_ids)).order_by(RunEvidence.id)))
    segments: dict[tuple[int, int], list[Segment]] = {}
    for segment in db.scalars(select(Segment).where(Segment.run_id.in_(run_ids)).order_by(Segment.id)):
        segments.setdefault((segment.run_id, segment.evidence_id), []).append(segment)
    speakers: dict[tuple[int, int], list[Speaker]] = {}
    for speaker in db.scalars(select(Speaker).where(Speaker.run_id.in_(run_ids)).order_by(Speaker.id)):
        speakers.setdefault((speaker.run_id, speaker.evidence_id), []).append(speaker)
    results = {
        (row.run_id, row.evidence_id): EvidenceResult(
            evidence_id=row.evidence_id,
            quality=_parsed(row.quality_json),
            warnings=_parsed(row.warnings_json),
            segments=[(s.speaker_label, s.start_seconds, s.end_seconds)
                      for s in segments.get((row.run_id, row.evidence_id), [])],
            speakers=[
                SpeakerResult(
                    label=s.label, speech_seconds=s.speech_seconds, segment_count=s.segment_count,
                    prediction=_parsed(s.prediction_json), quality=_parsed(s.quality_json),
                    warnings=_parsed(s.warnings_json), artifacts=_parsed(s.artifacts_json),
                )
                for s in speakers.get((row.run_id, row.evidence_id), [])
            ],
        )
        for row in rows
    }
    orphans = sorted((set(segments) | set(speakers)) - set(results), key=str)
    return results, orphans, {(row.run_id, row.evidence_id): row.speaker_count for row in rows}


def _parsed(text: str) -> Any:
    """A stored JSON value; text that does not parse (only a changed row holds such) is kept as
    a string saying so, which no logged digest matches."""
    try:
        return json.loads(text)
    except (TypeError, json.JSONDecodeError):
        return f"unparseable stored JSON: {text!r}"
