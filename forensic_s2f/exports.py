"""A run's results as files: RTTM per evidence, CSV or JSON tables (built with pandas)."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from pyannote.core import Annotation, Segment

from forensic_s2f.diarize.annotation import annotation_to_rttm
from forensic_s2f.s2f.dataset import AGE_BRACKETS
from forensic_s2f.store.models import Evidence
from forensic_s2f.store.runs import EvidenceResult

if TYPE_CHECKING:  # pandas is imported where tables are built: analysis only needs rttm_text
    import pandas as pd


def rttm_text(uri: str, segments: list[tuple[str, float, float]]) -> str:
    """Standard 10-field RTTM SPEAKER lines for (speaker, start s, end s) segments."""
    annotation = Annotation(uri=uri)
    for index, (label, start, end) in enumerate(segments):
        annotation[Segment(start, end), index] = label
    return annotation_to_rttm(annotation, uri)


MAX_STEM_BYTES = 200  # (UTF-8; file names may hold 255 bytes, and '-E<id>-<n>.rttm' is added)


def _clip(stem: str) -> str:
    """`stem` cut to MAX_STEM_BYTES of UTF-8, never inside a character."""
    return stem.encode()[:MAX_STEM_BYTES].decode(errors="ignore")


def _stems(evidence: list[Evidence]) -> dict[int, str]:
    """A distinct file stem for each evidence id: the original file's stem where no other file
    shares it, else `<stem>-E<id>` (then `-2`, `-3`, ... should another file already be named so)."""
    stems = {e.id: _clip(re.sub(r"\s+", "_", Path(e.original_filename).stem)) or f"evidence-{e.id}" for e in evidence}
    counts = Counter(stems.values())
    taken = {stem for stem, count in counts.items() if count == 1}
    names = {}
    for evidence_id, stem in sorted(stems.items()):
        if counts[stem] == 1:
            names[evidence_id] = stem
            continue
        name, suffix = f"{stem}-E{evidence_id}", 2
        while name in taken:
            name, suffix = f"{stem}-E{evidence_id}-{suffix}", suffix + 1
        taken.add(name)
        names[evidence_id] = name
    return names


SPEAKER_COLUMNS = ["run_id", "evidence_id", "file", "speaker", "speech_seconds", "segments", "seconds_used",
                   "p_female", "p_male", *(f"p_age_{bracket}" for bracket in AGE_BRACKETS), "age_estimate",
                   "p_age_estimate_within_one", "warnings"]  # (fixed: a run without speakers still gets its header)


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


def export_files(fmt: str, evidence: list[Evidence], results: list[EvidenceResult], run_id: int) -> dict[str, bytes]:
    """File name → bytes for one export format ('rttm', 'csv' or 'json')."""
    if fmt == "rttm":
        stems = _stems(evidence)
        return {f"{stems[r.evidence_id]}.rttm": rttm_text(stems[r.evidence_id], r.segments).encode() for r in results}
    segments = segment_table(evidence, results, run_id)
    speakers = speaker_table(evidence, results, run_id)
    if fmt == "csv":
        return {"segments.csv": _csv(segments), "speakers.csv": _csv(speakers)}
    document = {
        "run_id": run_id,
        "segments": json.loads(segments.to_json(orient="records")),
        "speakers": [
            {"evidence_id": r.evidence_id, "speaker": s.label, "speech_seconds": s.speech_seconds,
             "segments": s.segment_count, "prediction": s.prediction, "quality": s.quality, "warnings": s.warnings}
            for r in results for s in r.speakers
        ],
        "evidence": [{"evidence_id": r.evidence_id, "quality": r.quality, "warnings": r.warnings} for r in results],
    }
    return {"analysis.json": json.dumps(document, indent=2, ensure_ascii=False).encode()}
