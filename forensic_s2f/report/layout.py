"""Report layout: page geometry, fonts, paragraph styles, and the page furniture (header,
footer with 'case · report · page x of y') drawn on every page.

Fonts are the DejaVu TrueType files matplotlib ships, embedded as subsets. Text the report
draws goes through `escape`, which writes each character those fonts cannot draw as written as
its Unicode code point (`shown`), so a name in Chinese script or with a right-to-left override
is printed exactly, never as empty boxes or reversed. Geometry is in points (1/72 inch).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from pathlib import Path
from xml.sax import saxutils

import matplotlib
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas
from reportlab.platypus import Flowable, ListFlowable, ListItem, Paragraph, Table, TableStyle

LAYOUT_VERSION = 2  # 2: text printed character for character, code points for what the fonts cannot draw
PAGE_SIZE = A4
MARGIN = 18 * mm
FRAME_WIDTH = PAGE_SIZE[0] - 2 * MARGIN
HEADER_TEXT = "fs2f forensic speaker analysis report"
HEADER_NOTICE = "INVESTIGATIVE USE ONLY \u2014 NOT IDENTIFICATION EVIDENCE"
GREY = colors.HexColor("#555555")
RULE = colors.HexColor("#999999")
SHADE = colors.HexColor("#eeeeee")
NOTICE = colors.HexColor("#fff4e0")

SANS, BOLD, ITALIC, MONO = "DejaVuSans", "DejaVuSans-Bold", "DejaVuSans-Oblique", "DejaVuSansMono"


def register_fonts() -> None:
    """Register the DejaVu faces with reportlab once per process."""
    if SANS in pdfmetrics.getRegisteredFontNames():
        return
    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    for name in (SANS, BOLD, ITALIC, "DejaVuSans-BoldOblique", MONO):
        pdfmetrics.registerFont(TTFont(name, str(folder / f"{name}.ttf")))
    pdfmetrics.registerFontFamily(SANS, normal=SANS, bold=BOLD, italic=ITALIC, boldItalic="DejaVuSans-BoldOblique")


register_fonts()

CODE_POINT = "\u27e6U+{:04X}\u27e7"  # ⟦U+9332⟧: one character the fonts cannot draw as written
CODE_POINT_OPEN = CODE_POINT[0]
NO_BREAK_SPACE = "\u00a0"
UNDRAWN_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}  # controls, format, surrogates, private, unassigned
RIGHT_TO_LEFT = {"R", "AL"}  # drawn left to right, one glyph at a time, these would read reversed and unjoined


def _drawable(*names: str) -> frozenset[int]:
    """Code points that every named face has a glyph for."""
    return frozenset.intersection(*(frozenset(pdfmetrics.getFont(name).face.charToGlyph) for name in names))


DRAWABLE = _drawable(SANS, BOLD, ITALIC, "DejaVuSans-BoldOblique")
DRAWABLE_MONO = DRAWABLE & _drawable(MONO)


def shown(value: object, monospaced: bool = False) -> str:
    """`str(value)` as the report prints it, character for character.

    A character is written as ⟦U+XXXX⟧ when the fonts cannot draw it as written: no glyph in
    every face (Chinese, Japanese or Korean script, emoji), right-to-left script (reportlab draws
    left to right, so it would read reversed and unjoined), a control or format character (a line
    break, a right-to-left override, a zero-width space), a space other than U+0020, or the ⟦ that
    opens this notation, and a combining mark (an accent, a vowel point) with nothing drawn to sit
    on. Spaces that a paragraph would drop or merge (leading, trailing, repeated) become no-break
    spaces, which look the same and are kept.
    """
    drawable = DRAWABLE_MONO if monospaced else DRAWABLE
    out: list[str] = []
    baseless = True  # a combining mark here would sit on nothing, on a space or on a ⟦U+XXXX⟧
    for char in str(value):
        if char == " ":
            out.append(NO_BREAK_SPACE if not out or out[-1] in (" ", NO_BREAK_SPACE) else " ")
            baseless = True
        else:
            coded = _undrawn(char, drawable) or (baseless and unicodedata.category(char).startswith("M"))
            out.append(CODE_POINT.format(ord(char)) if coded else char)
            baseless = coded
    if out and out[-1] == " ":
        out[-1] = NO_BREAK_SPACE
    return "".join(out)


def _undrawn(char: str, drawable: frozenset[int]) -> bool:
    category = unicodedata.category(char)
    return (
        ord(char) not in drawable
        or char == CODE_POINT_OPEN
        or category in UNDRAWN_CATEGORIES
        or category == "Zs"  # (U+0020 is handled by the caller)
        or unicodedata.bidirectional(char) in RIGHT_TO_LEFT
    )


def needs_code_points(value: object) -> bool:
    """Whether the report writes any character of any string in `value` (a string, or dataclasses,
    mappings and sequences holding strings) as a code point, in any of its fonts."""
    if isinstance(value, str):
        return CODE_POINT_OPEN in shown(value, monospaced=True)
    if is_dataclass(value):
        value = [getattr(value, field.name) for field in fields(value)]
    elif isinstance(value, Mapping):
        value = [*value.keys(), *value.values()]
    return isinstance(value, list | tuple) and any(needs_code_points(item) for item in value)


def escape(value: object, monospaced: bool = False) -> str:
    """`shown(value)` escaped for reportlab's paragraph markup (no markup in it is interpreted)."""
    return saxutils.escape(shown(value, monospaced))

STYLES = {
    "title": ParagraphStyle("title", fontName=BOLD, fontSize=20, leading=25, spaceAfter=6),
    "subtitle": ParagraphStyle("subtitle", fontName=SANS, fontSize=12, leading=16, textColor=GREY, spaceAfter=14),
    "h1": ParagraphStyle("h1", fontName=BOLD, fontSize=14, leading=18, spaceBefore=4, spaceAfter=8),
    "h2": ParagraphStyle("h2", fontName=BOLD, fontSize=11, leading=14, spaceBefore=10, spaceAfter=5),
    "h3": ParagraphStyle("h3", fontName=BOLD, fontSize=9.5, leading=12, spaceBefore=6, spaceAfter=3),
    "body": ParagraphStyle("body", fontName=SANS, fontSize=9, leading=12.2, spaceAfter=5, alignment=TA_LEFT),
    "small": ParagraphStyle("small", fontName=SANS, fontSize=7.5, leading=9.5, textColor=GREY, spaceAfter=3),
    "cell": ParagraphStyle("cell", fontName=SANS, fontSize=8, leading=10),
    "cellbold": ParagraphStyle("cellbold", fontName=BOLD, fontSize=8, leading=10),
    "mono": ParagraphStyle("mono", fontName=MONO, fontSize=7, leading=8.6),
    "code": ParagraphStyle("code", fontName=MONO, fontSize=6.2, leading=7.6, splitLongWords=1),
    "notice": ParagraphStyle("notice", fontName=SANS, fontSize=9, leading=12.2, spaceAfter=4),
    "confidence": ParagraphStyle("confidence", fontName=SANS, fontSize=8.5, leading=11, spaceAfter=3),
}


def text(value: object, style: str = "body") -> Paragraph:
    """A paragraph of plain text (escaped: no markup is interpreted)."""
    return Paragraph(escape(value), STYLES[style])


def markup(value: str, style: str = "body") -> Paragraph:
    """A paragraph whose value is already reportlab markup (callers escape user data)."""
    return Paragraph(value, STYLES[style])


def mono(value: object, style: str = "mono") -> Paragraph:
    return Paragraph(escape(value, monospaced=True), STYLES[style])


def _inline_markdown(line: str) -> str:
    line = escape(line)
    line = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", line)
    return re.sub(r"\*(.+?)\*", r"<i>\1</i>", line)


def markdown(body: str) -> list[Flowable]:
    """The template Markdown subset as flowables: paragraphs, '- ' bullet lists, bold, italic."""
    flowables: list[Flowable] = []
    for block in re.split(r"\n\s*\n", body.strip()):
        lines = [line.strip() for line in block.splitlines() if line.strip()]
        if all(line.startswith("- ") for line in lines):
            flowables.append(bullets([_inline_markdown(line[2:]) for line in lines], escaped=True))
        else:
            flowables.append(markup(_inline_markdown(" ".join(lines))))
    return flowables


def bullets(items: list[str], escaped: bool = False, style: str = "body") -> ListFlowable:
    """A bulleted list; items are plain text unless `escaped` says they are markup already."""
    return ListFlowable(
        [ListItem(markup(item if escaped else escape(item), style), leftIndent=12) for item in items],
        bulletType="bullet", start="\u2022", leftIndent=12, bulletFontName=SANS, bulletFontSize=8,
    )


def grid(rows: list[list[object]], widths: list[float], header: bool = True, shade_first_column: bool = False) -> Table:
    """A ruled table; str cells become wrapped paragraphs, flowables stay as they are."""
    cells = [
        [text(cell, "cellbold" if header and r == 0 else "cell") if isinstance(cell, str | int | float) else cell
         for cell in row]
        for r, row in enumerate(rows)
    ]
    table = Table(cells, colWidths=widths, repeatRows=1 if header else 0, hAlign="LEFT", splitInRow=1)
    commands = [
        ("GRID", (0, 0), (-1, -1), 0.4, RULE),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
    ]
    if header:
        commands.append(("BACKGROUND", (0, 0), (-1, 0), SHADE))
    if shade_first_column:
        commands.append(("BACKGROUND", (0, 0), (0, -1), SHADE))
    table.setStyle(TableStyle(commands))
    return table


def key_values(pairs: list[tuple[str, object]], key_width: float = 34 * mm) -> Table:
    """A two-column table of labels and values (values may be flowables)."""
    return grid([[text(key, "cellbold"), value] for key, value in pairs], [key_width, FRAME_WIDTH - key_width],
                header=False, shade_first_column=True)


def boxed(flowables: list[Flowable], background: colors.Color = NOTICE) -> Table:
    """Flowables inside a shaded, ruled box across the frame."""
    table = Table([[flowables]], colWidths=[FRAME_WIDTH], hAlign="LEFT")
    table.setStyle(TableStyle([
        ("BOX", (0, 0), (-1, -1), 0.8, colors.HexColor("#c08000")),
        ("BACKGROUND", (0, 0), (-1, -1), background),
        ("LEFTPADDING", (0, 0), (-1, -1), 7), ("RIGHTPADDING", (0, 0), (-1, -1), 7),
        ("TOPPADDING", (0, 0), (-1, -1), 5), ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
    ]))
    return table


def numbered_canvas(case_id: str, report_id: str, written_utc: str) -> type[canvas.Canvas]:
    """A canvas class that draws header and footer ('Case … · Report … · Page x of y') at save time."""

    class NumberedCanvas(canvas.Canvas):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict] = []

        def showPage(self) -> None:  # noqa: N802 (reportlab's name)
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                self._furniture(total)
                super().showPage()
            super().save()

        def _furniture(self, total: int) -> None:
            width, height = PAGE_SIZE
            self.saveState()
            self.setStrokeColor(RULE)
            self.setLineWidth(0.5)
            self.line(MARGIN, height - MARGIN + 5 * mm, width - MARGIN, height - MARGIN + 5 * mm)
            self.line(MARGIN, MARGIN - 5 * mm, width - MARGIN, MARGIN - 5 * mm)
            self.setFillColor(GREY)
            self.setFont(SANS, 7.5)
            self.drawString(MARGIN, height - MARGIN + 7 * mm, HEADER_TEXT)
            self.setFont(BOLD, 7.5)
            self.drawRightString(width - MARGIN, height - MARGIN + 7 * mm, HEADER_NOTICE)
            self.setFont(SANS, 7.5)
            self.drawString(MARGIN, MARGIN - 9 * mm, f"Case {case_id} \u00b7 Report {report_id}")
            self.drawRightString(width - MARGIN, MARGIN - 9 * mm, f"Page {self._pageNumber} of {total}")
            self.setFont(SANS, 6.5)
            self.drawCentredString(width / 2, MARGIN - 12.5 * mm, f"written {written_utc[:19].replace('T', ' ')} UTC")
            self.restoreState()

    return NumberedCanvas
