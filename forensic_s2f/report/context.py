"""What every section reads: the report's context (plain data), section titles, small formatters."""

from __future__ import annotations

import io
from dataclasses import dataclass

from reportlab.lib.utils import ImageReader
from reportlab.platypus import Image

from forensic_s2f.report.caveats import CaveatTemplate
from forensic_s2f.report.data import ReportData
from forensic_s2f.report.validation import ValidationFigures

SECTION_TITLES = (
    "1 Evidence", "2 Findings per recording", "3 Speaker estimates", "4 Method", "5 Validation of the model",
    "6 Caveats and limitations", "Appendix A Custody log",
)


@dataclass(frozen=True)
class ReportContext:
    """Everything one report shows; `report_id` is derived from the content (see build.py)."""

    data: ReportData
    caveats: list[CaveatTemplate]
    validation: ValidationFigures | None
    examiner: str
    written_utc: str
    report_id: str
    software_version: str


def utc(timestamp: str | None) -> str:
    """'2026-11-26T13:58:41.530189Z' as '2026-11-26 13:58:41 UTC'."""
    return "-" if not timestamp else timestamp[:19].replace("T", " ") + " UTC"


def seconds(value: float | None, digits: int = 1) -> str:
    """A duration as '3.6 s', or '-'."""
    return "-" if value is None else f"{value:.{digits}f} s"


def image(png: bytes, width: float, max_height: float | None = None) -> Image:
    """A PNG scaled to `width` points (or less, to stay within `max_height`), keeping its aspect."""
    pixels_wide, pixels_high = ImageReader(io.BytesIO(png)).getSize()
    height = width * pixels_high / pixels_wide
    if max_height is not None and height > max_height:
        width, height = width * max_height / height, max_height
    flowable = Image(io.BytesIO(png), width=width, height=height)
    flowable.hAlign = "LEFT"
    return flowable

