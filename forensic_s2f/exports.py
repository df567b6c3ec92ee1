"""A run's results as files: RTTM per evidence, CSV or JSON tables (built with pandas)."""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyannote.core import Annotation, Segment

from forensic_s2f.diarize.annotation import annotation_to_rttm
from forensic_s2f.s2f.dataset import AGE_BRACKETS
from forensic_s2f.store.models import Activity, Artifact, Evidence
from forensic_s2f.store.runs import EvidenceResult

if TYPE_CHECKING:  # pandas is imported where tables are built: analysis only needs rttm_text
    import pandas as pd


@dataclass(frozen=True)
class ExportedRun:
    """The run an export is made of, as recorded: who ran it, when, with which parameters
    (options, every stage's settings, the model's file hashes, software versions in the
    activities), and the custody log's head when the export was made."""

    case_id: str
    run_id: int
    status: str
    examiner: str
    started_utc: str
    ended_utc: str | None
    parameters: dict[str, Any] = field(default_factory=dict)
    custody_log_head: str = ""
    software: dict[str, str] = field(default_factory=dict)  # what the run's first step recorded (versions, hashes)


def rttm_text(uri: str, segments: list[tuple[str, float, float]]) -> str:
    """Standard 10-field RTTM SPEAKER lines for (speaker, start s, end s) segments."""
    annotation = Annotation(uri=uri)
    for index, (label, start, end) in enumerate(segments):
        annotation[Segment(start, end), index] = label
    return annotation_to_rttm(annotation, uri)


MAX_STEM_BYTES = 200  # (UTF-8; file names may hold 255 bytes, and '-E<id>.rttm' is added)
MADE_UP = re.compile(r"[-\u2010-\u2015\u2212\ufe58\ufe63]e\d+$")  # `-E<id>` and look-alikes, as `_look` shows them


def _clip(stem: str) -> str:
    """`stem` cut to MAX_STEM_BYTES of UTF-8, never inside a character."""
    return stem.encode()[:MAX_STEM_BYTES].decode(errors="ignore")


def _stems(evidence: list[Evidence]) -> dict[int, str]:
    """A distinct file stem for each evidence id: the original file's stem where no other file
    shares it (or one that looks the same, see `_look`), else `<stem>-E<id>`. A stem that itself
    ends like `-E<number>` (or a look-alike: another dash, full-width letters) gets its own id too
    (`x-E2.wav`, evidence 4: `x-E2-E4`), so that a name ending in `-E<n>` is always evidence n's
    (`x-E2` had held evidence 4 while evidence 2 was written to `x-E2-2`)."""
    stems = {e.id: _clip(re.sub(r"\s+", "_", Path(e.original_filename).stem)) or f"evidence-{e.id}" for e in evidence}
    counts = Counter(_look(stem) for stem in stems.values())
    return {evidence_id: stem if counts[_look(stem)] == 1 and not MADE_UP.search(_look(stem)) else f"{stem}-E{evidence_id}"
            for evidence_id, stem in stems.items()}


def _look(stem: str) -> str:
    """What a name looks like: names that differ only in Unicode form (é composed or not) or in
    case (one file on a case-insensitive disk) count as one."""
    return unicodedata.normalize("NFKC", stem).casefold()


SPEAKER_QUALITY = ["snr_db", "snr_method", "clipping_fraction", "effective_bandwidth_hz", "is_telephone_band"]
SPEAKER_COLUMNS = ["run_id", "evidence_id", "file", "speaker", "speech_seconds", "segments", "seconds_used",
                   "p_female", "p_male", *(f"p_age_{bracket}" for bracket in AGE_BRACKETS), "age_estimate",
                   "p_age_estimate_within_one", *SPEAKER_QUALITY, "warnings"]  # (fixed: a run without speakers still gets its header)


def segment_table(evidence: list[Evidence], results: list[EvidenceResult], run_id: int) -> pd.DataFrame:
    import pandas as pd

    names = {e.id: e.original_filename for e in evidence}
    rows = [
        {"run_id": run_id, "evidence_id": r.evidence_id, "file": names[r.evidence_id], "speaker": label,
         "start_seconds": start, "end_seconds": end, "duration_seconds": round(end - start, 3)}
        for r in results for label, start, end in r.segments
    ]
    return pd.DataFrame(rows, columns=["run_id", "evidence_id", "file", "speaker", "start_seconds", "end_seconds", "duration_seconds"])


def speaker_table(evidence: list[Evidence], results: list[EvidenceResult], run_id: int) -> pd.DataFrame:
    import pandas as pd

    names = {e.id: e.original_filename for e in evidence}
    rows = []
    for result in results:
        for s in result.speakers:
            row = {"run_id": run_id, "evidence_id": result.evidence_id, "file": names[result.evidence_id],
                   "speaker": s.label, "speech_seconds": s.speech_seconds, "segments": s.segment_count,
                   "seconds_used": s.prediction.get("seconds_used")}
            row.update({f"p_{k}": v for k, v in s.prediction.get("gender", {}).items()})
            row.update({f"p_age_{k}": v for k, v in s.prediction.get("age", {}).items()})
            row["age_estimate"] = s.prediction.get("age_estimate")
            row["p_age_estimate_within_one"] = s.prediction.get("age_estimate_within_one")
            row.update({key: s.quality.get(key) for key in SPEAKER_QUALITY})  # (measured on the speech the model heard)
            row["warnings"] = "; ".join(s.warnings)
            rows.append(row)
    return pd.DataFrame(rows, columns=SPEAKER_COLUMNS)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet may run as a formula (CSV injection)


def _csv(table: pd.DataFrame) -> bytes:
    """`table` as CSV; a text cell that starts like a formula (a file named '=HYPERLINK(…).wav'),
    which a spreadsheet would run when the CSV is opened, is written with a leading apostrophe,
    which spreadsheets read as 'text follows' and do not show. The JSON export keeps such text as it is."""
    text = table.select_dtypes(include=["object", "str"]).columns
    guarded = table.copy()
    guarded[text] = table[text].map(spreadsheet_safe)
    return guarded.to_csv(index=False).encode()


def spreadsheet_safe(value: object) -> object:
    """A text that starts like a formula with a leading apostrophe (see `_csv`); anything else as it is."""
    return f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


RECORDING_COLUMNS = ["run_id", "evidence_id", "file", "sha256", "speakers", "duration_seconds", "speech_seconds",
                     "snr_db", "snr_method", "clipping_fraction", "effective_bandwidth_hz", "is_telephone_band",
                     "overlap_fraction", "dc_offset", "full_scale_fraction", "warnings"]
RUN_COLUMNS = ["case_id", "run_id", "status", "examiner", "started_utc", "ended_utc", "num_speakers", "min_speakers",
               "max_speakers", "denoise", "model_name", "model_sha256", "custody_log_head", "parameters_json",
               "software_json"]


def recording_table(evidence: list[Evidence], results: list[EvidenceResult], run_id: int) -> pd.DataFrame:
    """One row per evidence file of the run, with or without speech: its measured quality and
    the warnings that concern the whole recording."""
    import pandas as pd

    by_id = {e.id: e for e in evidence}
    rows = []
    for result in results:
        item = by_id[result.evidence_id]
        rows.append({"run_id": run_id, "evidence_id": result.evidence_id, "file": item.original_filename,
                     "sha256": item.sha256, "speakers": len(result.speakers),
                     **{k: result.quality.get(k) for k in RECORDING_COLUMNS[5:-1]},
                     "warnings": "; ".join(result.warnings)})
    return pd.DataFrame(rows, columns=RECORDING_COLUMNS)


RTTM_INDEX = "rttm-index.csv"
RTTM_INDEX_COLUMNS = ["rttm", "case_id", "run_id", "evidence_id", "file", "sha256", "original_path"]


def rttm_index(evidence: list[Evidence], results: list[EvidenceResult], run: ExportedRun,
               stems: dict[int, str]) -> pd.DataFrame:
    """What each RTTM file of an export describes (RTTM itself names only its file id)."""
    import pandas as pd

    by_id = {e.id: e for e in evidence}
    rows = [{"rttm": f"{stems[r.evidence_id]}.rttm", "case_id": run.case_id, "run_id": run.run_id,
             "evidence_id": r.evidence_id, "file": by_id[r.evidence_id].original_filename,
             "sha256": by_id[r.evidence_id].sha256, "original_path": by_id[r.evidence_id].original_path}
            for r in results]
    return pd.DataFrame(rows, columns=RTTM_INDEX_COLUMNS)


STORED_INDEX = "files-index.csv"
STORED_INDEX_COLUMNS = ["file", "kind", "media_type", "size_bytes", "sha256", "artifact_id", "activity_id", "activity",
                        "evidence_id"]


def stored_files(artifacts: list[Artifact], activities: list[Activity]) -> tuple[dict[str, Artifact], bytes]:
    """The files a run kept in the vault (`artifacts` of its `activities`: speech regions,
    denoised audio, RTTM, each speaker's prediction.json and face images), each under its label
    made safe as a file name (`A<artifact id>-` first should two labels meet), and the CSV
    index that says what each one is."""
    import pandas as pd

    by_id = {activity.id: activity for activity in activities}
    files: dict[str, Artifact] = {}
    rows = []
    for artifact in (a for a in artifacts if a.activity_id in by_id):
        name = re.sub(r"[^A-Za-z0-9._-]", "_", artifact.label).lstrip(".") or "file"
        name = _clip(name) if name not in files and name != STORED_INDEX else f"A{artifact.id}-{_clip(name)}"
        files[name] = artifact
        activity = by_id[artifact.activity_id]
        evidence = [item.get("evidence_id") for item in json.loads(activity.inputs_json) if isinstance(item, dict)]
        rows.append({"file": name, "kind": artifact.kind, "media_type": artifact.media_type,
                     "size_bytes": artifact.size_bytes, "sha256": artifact.sha256, "artifact_id": artifact.id,
                     "activity_id": activity.id, "activity": activity.kind,
                     "evidence_id": next((e for e in evidence if e is not None), None)})
    return files, _csv(pd.DataFrame(rows, columns=STORED_INDEX_COLUMNS).astype({"evidence_id": "Int64"}))


def run_table(run: ExportedRun) -> pd.DataFrame:
    """The run's settings in one row; `parameters_json` holds all of them."""
    import pandas as pd

    options = run.parameters.get("options", {})
    model = run.parameters.get("model", {})
    row = {"case_id": run.case_id, "run_id": run.run_id, "status": run.status, "examiner": run.examiner,
           "started_utc": run.started_utc, "ended_utc": run.ended_utc,
           **{k: options.get(k) for k in ("num_speakers", "min_speakers", "max_speakers", "denoise")},
           "model_name": model.get("name"), "model_sha256": model.get("sha256"),
           "custody_log_head": run.custody_log_head,
           "parameters_json": json.dumps(run.parameters, sort_keys=True, ensure_ascii=False),
           "software_json": json.dumps(run.software, sort_keys=True, ensure_ascii=False)}
    return pd.DataFrame([row], columns=RUN_COLUMNS)


def export_files(fmt: str, evidence: list[Evidence], results: list[EvidenceResult], run: ExportedRun) -> dict[str, bytes]:
    """File name → bytes for one export format ('rttm', 'csv' or 'json'); docs/exports.md
    describes every file and column."""
    if fmt == "rttm":
        stems = _stems(evidence)
        files = {f"{stems[r.evidence_id]}.rttm": rttm_text(stems[r.evidence_id], r.segments).encode() for r in results}
        return {**files, RTTM_INDEX: _csv(rttm_index(evidence, results, run, stems))}
    segments = segment_table(evidence, results, run.run_id)
    speakers = speaker_table(evidence, results, run.run_id)
    if fmt == "csv":
        return {"segments.csv": _csv(segments), "speakers.csv": _csv(speakers),
                "recordings.csv": _csv(recording_table(evidence, results, run.run_id)), "run.csv": _csv(run_table(run))}
    by_id = {e.id: e for e in evidence}
    document = {
        "run_id": run.run_id,
        "run": asdict(run),
        "segments": json.loads(segments.to_json(orient="records")),
        "speakers": [
            {"run_id": run.run_id, "evidence_id": r.evidence_id, "file": by_id[r.evidence_id].original_filename,
             "speaker": s.label, "speech_seconds": s.speech_seconds, "segments": s.segment_count,
             "prediction": s.prediction, "quality": s.quality, "warnings": s.warnings}
            for r in results for s in r.speakers
        ],
        "evidence": [{"run_id": run.run_id, "evidence_id": r.evidence_id, "file": by_id[r.evidence_id].original_filename,
                      "sha256": by_id[r.evidence_id].sha256,
                      "speakers": len(r.speakers), "quality": r.quality, "warnings": r.warnings} for r in results],
    }
    return {"analysis.json": json.dumps(document, indent=2, ensure_ascii=False).encode()}
