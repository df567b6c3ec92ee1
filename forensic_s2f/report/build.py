"""Assemble the report: derive its id from the content, lay the sections out, return PDF bytes.

Reproducible: reportlab runs in invariant mode (fixed document id; creation date = the date
written, through SOURCE_DATE_EPOCH), figures and fonts are deterministic, so the bytes depend
only on the content and on what changes by nature between two writings — the date written, the
examiner writing it and the custody log.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from dataclasses import asdict, dataclass

from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate

from forensic_s2f import __version__
from forensic_s2f.report import back, findings, front
from forensic_s2f.report.caveats import CaveatTemplate
from forensic_s2f.report.context import ReportContext
from forensic_s2f.report.data import ReportData
from forensic_s2f.report.layout import LAYOUT_VERSION, MARGIN, PAGE_SIZE, numbered_canvas
from forensic_s2f.report.validation import ValidationFigures
from forensic_s2f.store.custody import canonical_json


@dataclass(frozen=True)
class BuiltReport:
    """A rendered report: its id, PDF bytes and their SHA-256, and the content hash the id comes from."""

    report_id: str
    pdf: bytes
    sha256: str
    content_sha256: str


class ReportDocument(SimpleDocTemplate):
    """Reports each section heading (style 'h1') to the table of contents with its page number."""

    def afterFlowable(self, flowable: Flowable) -> None:  # noqa: N802 (reportlab's name)
        if isinstance(flowable, Paragraph) and flowable.style.name == "h1":
            self.notify("TOCEntry", (0, flowable.getPlainText(), self.page))


def content_record(data: ReportData, caveats: list[CaveatTemplate], validation: ValidationFigures | None) -> dict:
    """What the report states about the run, independent of when and by whom it is written."""
    return {
        "layout_version": LAYOUT_VERSION,
        "software_version": __version__,
        "case": {"id": data.case_id, "title": data.case_title, "created_utc": data.case_created_utc,
                 "created_by": data.case_created_by},
        "evidence": [asdict(item) for item in data.evidence],
        "run": asdict(data.run),
        "findings": [
            {"evidence_id": item.evidence.id, "quality": item.quality, "warnings": item.warnings,
             "segments": item.segments,
             "speakers": [{"label": s.label, "speech_seconds": s.speech_seconds, "segment_count": s.segment_count,
                           "prediction": s.prediction, "quality": s.quality, "warnings": s.warnings,
                           "image_sha256": s.image_sha256} for s in item.speakers]}
            for item in data.findings
        ],
        "activities": [asdict(activity) for activity in data.activities],
        "caveats": [{"name": t.name, "version": t.version, "sha256": t.sha256} for t in caveats],
        "validation_sha256": validation.sha256 if validation else None,
    }


def report_id_for(run_id: int, content_sha256: str) -> str:
    """'R-<run id>-<first 12 hex digits of the content hash>'."""
    return f"R-{run_id}-{content_sha256[:12]}"


def build_report(data: ReportData, caveats: list[CaveatTemplate], validation: ValidationFigures | None,
                 examiner: str, written_utc: str) -> BuiltReport:
    """Render the whole report to PDF bytes."""
    content_sha256 = hashlib.sha256(canonical_json(content_record(data, caveats, validation)).encode()).hexdigest()
    report_id = report_id_for(data.run.id, content_sha256)
    context = ReportContext(data=data, caveats=caveats, validation=validation, examiner=examiner,
                                     written_utc=written_utc, report_id=report_id, software_version=__version__)
    story = [
        *front.cover(context), *front.evidence_section(context), *findings.findings_section(context),
        *findings.speaker_pages(context), *back.method_section(context), *back.validation_section(context),
        *back.caveats_section(context), *back.custody_appendix(context),
    ]
    buffer = io.BytesIO()
    document = ReportDocument(
        buffer, pagesize=PAGE_SIZE, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN, bottomMargin=MARGIN,
        title=f"Case {data.case_id} report {report_id}", author=examiner, subject="fs2f forensic speaker analysis report",
        creator=f"fs2f {__version__}", producer="fs2f (reportlab)", invariant=1,
    )
    with _source_date(written_utc):  # (the PDF's creation date: the date written, not reportlab's fixed 2000-01-01)
        document.multiBuild(story, canvasmaker=numbered_canvas(data.case_id, report_id, written_utc))
    pdf = buffer.getvalue()
    return BuiltReport(report_id=report_id, pdf=pdf, sha256=hashlib.sha256(pdf).hexdigest(), content_sha256=content_sha256)


@contextmanager
def _source_date(utc: str) -> Iterator[None]:
    """reportlab stamps the PDF with SOURCE_DATE_EPOCH while this holds: `utc` (ISO 8601, 'Z')."""
    before = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ["SOURCE_DATE_EPOCH"] = str(int(datetime.fromisoformat(utc).timestamp()))
    try:
        yield
    finally:
        if before is None:
            del os.environ["SOURCE_DATE_EPOCH"]
        else:
            os.environ["SOURCE_DATE_EPOCH"] = before
