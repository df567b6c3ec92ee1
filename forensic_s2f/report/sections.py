"""The report's sections as reportlab flowables, one function per section, in reading order.

Each function takes the `ReportContext` (plain data) and returns flowables; figures come
from `figures.py`, wording of the general caveats from the templates.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from xml.sax.saxutils import escape

from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.platypus.tableofcontents import TableOfContents
from reportlab.platypus import CondPageBreak, Flowable, Image, KeepTogether, PageBreak, Spacer, Table, TableStyle

from forensic_s2f.report import figures
from forensic_s2f.report.caveats import CaveatTemplate, case_caveats, sentence
from forensic_s2f.report.confidence import confidence_statement, most_probable, percent, probability_spread
from forensic_s2f.report.data import EvidenceFindings, ReportData, SpeakerFindings
from forensic_s2f.report.layout import (
    FRAME_WIDTH, STYLES, boxed, bullets, grid, key_values, markdown, markup, mono, text,
)
from forensic_s2f.report.validation import GroupFigures, ValidationFigures

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


def _utc(timestamp: str | None) -> str:
    """'2026-11-26T13:58:41.530189Z' as '2026-11-26 13:58:41 UTC'."""
    return "-" if not timestamp else timestamp[:19].replace("T", " ") + " UTC"


def _seconds(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f} s"


def _image(png: bytes, width: float, max_height: float | None = None) -> Image:
    pixels_wide, pixels_high = ImageReader(io.BytesIO(png)).getSize()
    height = width * pixels_high / pixels_wide
    if max_height is not None and height > max_height:
        width, height = width * max_height / height, max_height
    image = Image(io.BytesIO(png), width=width, height=height)
    image.hAlign = "LEFT"
    return image


def _speaker_name(speaker: SpeakerFindings, data: ReportData) -> str:
    filename = next(item.evidence.filename for item in data.findings if item.evidence.id == speaker.evidence_id)
    return f"{speaker.label} in evidence {speaker.evidence_id} ({filename})"


def contents() -> TableOfContents:
    """The table of contents; reportlab fills in the section titles and pages over two passes."""
    toc = TableOfContents(dotsMinLevel=0)
    toc.levelStyles = [ParagraphStyle("toc", parent=STYLES["body"], leftIndent=0, firstLineIndent=0, spaceAfter=1)]
    return toc


# -- cover -------------------------------------------------------------------------------

def summary_text(data: ReportData) -> str:
    """The cover's plain-language summary of what was analysed and found."""
    total = sum(item.evidence.duration_seconds for item in data.findings)
    parts = [
        f"This report sets out the results of analysis run {data.run.id} of case {data.case_id}, started "
        f"{_utc(data.run.started_utc)} by {data.run.examiner}, on {len(data.findings)} evidence "
        f"recording{'s' if len(data.findings) != 1 else ''} ({total:.1f} s of audio in all)."
    ]
    found = [f"{len(item.speakers)} in {item.evidence.filename}" for item in data.findings]
    count = len(data.speakers)
    if count == 0:
        parts.append("No speaker was found in any recording, so no voice-to-face estimate was made; "
                     "the findings section shows what was measured instead.")
    else:
        parts.append(f"Speaker diarization (who spoke when) found {count} speaker{'s' if count != 1 else ''} "
                     f"({'; '.join(found)}). For each speaker a model estimated from the voice alone the probable "
                     "gender, the probable age bracket and a canonical face, with the disagreement between the "
                     "members of a model ensemble as a measure of uncertainty.")
    warnings = sum(len(item.warnings) + sum(len(s.warnings) for s in item.speakers) for item in data.findings)
    if warnings:
        parts.append(f"{warnings} warning{'s were' if warnings != 1 else ' was'} raised about audio quality or the "
                     "amount of speech; each is listed with its finding and in Section 6.")
    parts.append("The estimates are statistical and describe group-level traits: they are not portraits and not "
                 "identification evidence. Section 5 gives the model's measured error rates and Section 6 the "
                 "caveats that apply.")
    return " ".join(parts)


def cover(ctx: ReportContext) -> list[Flowable]:
    data = ctx.data
    title = data.case_title or "untitled case"
    return [
        markup("Forensic speaker analysis report", "title"),
        text(f"Case {data.case_id}: {title}", "subtitle"),
        key_values([
            ("Case", text(f"{data.case_id} \u2014 {title} (opened {data.case_created_utc[:10]} by {data.case_created_by})", "cell")),
            ("Report id", mono(ctx.report_id)),
            ("Analysis run", text(f"run {data.run.id}, {_utc(data.run.started_utc)} to {_utc(data.run.ended_utc)}, "
                                  f"by {data.run.examiner}", "cell")),
            ("Report written by", text(ctx.examiner, "cell")),
            ("Date written", text(_utc(ctx.written_utc), "cell")),
            ("Software", text(f"fs2f {ctx.software_version}", "cell")),
            ("Custody-log head", [mono(data.log_head),
                                  text(f"entry hash of event {data.custody[-1].seq if data.custody else 0}, the last "
                                       "event when this report was written; it pins the log printed in Appendix A", "small")]),
            ("Integrity", text(f"at the time of writing the custody chain of {len(data.custody)} events recomputed "
                               f"correctly and all {data.vault_objects_verified} vault files (evidence and derived "
                               "artifacts) matched their recorded SHA-256", "cell")),
        ]),
        Spacer(1, 10),
        markup("Summary", "h2"),
        text(summary_text(data)),
        Spacer(1, 6),
        boxed([markup("<b>Read before use.</b> The faces, genders and age brackets in this report are statistical "
                      "estimates made from a voice by a model with measured, non-negligible error rates. They are "
                      "<b>not portraits</b> and <b>not identification evidence</b>; use them for investigative "
                      "purposes only, together with the caveats in Section 6.", "notice")]),
        Spacer(1, 10),
        markup("Contents", "h2"),
        contents(),
        text(f"The report id is derived from the report's content (case, evidence, run, results, provenance, caveat "
             f"templates, validation figures, software version): the same run reported again with the same templates "
             f"gives the same id and the same content, apart from the date written and the custody log, which grows.",
             "small"),
    ]


# -- 1 evidence ------------------------------------------------------------------------------

def evidence_section(ctx: ReportContext) -> list[Flowable]:
    data = ctx.data
    analysed = set(data.run.evidence_ids)
    flowables: list[Flowable] = [PageBreak(), markup(SECTION_TITLES[0], "h1"),
                                 text("Every evidential recording of the case as ingested into the vault. SHA-256 is of the "
                                      "original bytes; the vault copy is read-only and was re-hashed when this report was written.")]
    for item in data.evidence:
        note = "" if item.id in analysed else " (not analysed in this run)"
        flowables.append(KeepTogether([
            markup(escape(f"Evidence {item.id}: {item.filename}{note}"), "h3"),
            key_values([
                ("Original file", text(item.filename, "cell")),
                ("Path at intake", text(item.original_path, "cell")),
                ("SHA-256", mono(item.sha256)),
                ("Size", text(f"{item.size_bytes:,} bytes", "cell")),
                ("Media format", text(f"{item.media_type}, {item.codec}, {item.sample_rate_hz} Hz, "
                                      f"{item.channels} channel{'s' if item.channels != 1 else ''}", "cell")),
                ("Duration", text(f"{item.duration_seconds:.2f} s", "cell")),
                ("Intake", text(f"{_utc(item.ingested_utc)} by {item.examiner}", "cell")),
                ("Source", text(item.source or "not recorded", "cell")),
                ("Note", text(item.note or "none", "cell")),
            ]),
        ]))
    return flowables


# -- 2 findings ------------------------------------------------------------------------------

QUALITY_ROWS = (
    ("duration_seconds", "Duration", lambda v: f"{v:.2f} s"),
    ("speech_seconds", "Net speech (voice activity)", lambda v: f"{v:.2f} s"),
    ("snr_db", "Signal-to-noise ratio (estimated)", lambda v: f"{v:.1f} dB"),
    ("clipping_fraction", "Clipped samples", lambda v: f"{100 * v:.3f} %"),
    ("effective_bandwidth_hz", "Effective bandwidth", lambda v: f"{v / 1000:.1f} kHz"),
    ("is_telephone_band", "Telephone band", lambda v: "yes" if v else "no"),
    ("overlap_fraction", "Overlapped speech", lambda v: f"{100 * v:.1f} % of speech"),
)


def _quality_rows(quality: dict) -> list[list[object]]:
    rows = [[label, render(quality[key]) if quality.get(key) is not None else "not measured"]
            for key, label, render in QUALITY_ROWS if key in quality]
    if quality.get("snr_method"):
        rows.append(["SNR method", str(quality["snr_method"])])
    return rows or [["quality", "not measured"]]


def _top_text(probabilities: dict) -> str:
    top = most_probable(probabilities)
    return "-" if top is None else f"{top[0]} ({top[1]:.2f})"


def findings_section(ctx: ReportContext) -> list[Flowable]:
    flowables: list[Flowable] = [PageBreak(), markup(SECTION_TITLES[1], "h1")]
    for item in ctx.data.findings:
        flowables.extend(_evidence_findings(item))
    return flowables


def _evidence_findings(item: EvidenceFindings) -> list[Flowable]:
    labels = sorted({label for label, _, _ in item.segments} | {s.label for s in item.speakers})
    total_speech = sum(s.speech_seconds for s in item.speakers)
    flowables: list[Flowable] = [
        CondPageBreak(90 * mm),
        markup(escape(f"Evidence {item.evidence.id}: {item.evidence.filename}"), "h2"),
        markup("Signal quality", "h3"),
        grid([["measure", "value"], *_quality_rows(item.quality)], [70 * mm, 60 * mm]),
    ]
    if item.warnings:
        flowables += [markup("Warnings", "h3"), bullets([sentence(w) for w in item.warnings])]
    flowables += [
        markup("Who spoke when", "h3"),
        _image(figures.timeline_png(item.segments, item.evidence.duration_seconds, labels), FRAME_WIDTH),
        text(f"{len(item.segments)} speech segments attributed to {len(labels)} speaker label(s); labels are "
             "arbitrary names within this recording, in order of first appearance.", "small"),
    ]
    if not item.speakers:
        flowables.append(text("No speaker was found in this recording, so no voice-to-face estimate was made."))
        return flowables
    rows = [["speaker", "speech", "share", "segments", "used by model", "gender", "age bracket", "quality flags"]]
    for speaker in item.speakers:
        share = speaker.speech_seconds / total_speech if total_speech else 0.0
        rows.append([
            speaker.label, _seconds(speaker.speech_seconds), f"{100 * share:.0f} %", str(speaker.segment_count),
            _seconds(speaker.prediction.get("seconds_used")), _top_text(speaker.prediction.get("gender", {})),
            _top_text(speaker.prediction.get("age", {})),
            text("; ".join(dict.fromkeys(speaker.warnings)) or "none", "cell"),
        ])
    widths = [23 * mm, 14 * mm, 12 * mm, 19 * mm, 16 * mm, 23 * mm, 23 * mm]
    flowables += [markup("Speakers", "h3"), grid(rows, widths + [FRAME_WIDTH - sum(widths)]),
                  text("Gender and age bracket: the most probable class and its probability; see the speaker pages "
                       "in Section 3 for all classes, their uncertainty and what they are worth.", "small")]
    return flowables


# -- 3 speaker pages ---------------------------------------------------------------------------

def speaker_pages(ctx: ReportContext) -> list[Flowable]:
    speakers = ctx.data.speakers
    if not speakers:
        return [PageBreak(), markup(SECTION_TITLES[2], "h1"),
                text("No speaker was found in the analysed recordings; there are no speaker estimates to show.")]
    flowables: list[Flowable] = []
    for number, speaker in enumerate(speakers, start=1):
        flowables.append(PageBreak())
        if number == 1:
            flowables.append(markup(SECTION_TITLES[2], "h1"))
        flowables.extend(_speaker_page(ctx, number, speaker))
    return flowables


def _facts(speaker: SpeakerFindings) -> Table:
    prediction, quality = speaker.prediction, speaker.quality
    model = prediction.get("model", {})
    rows = [
        ["Speech attributed", _seconds(speaker.speech_seconds)],
        ["Segments", str(speaker.segment_count)],
        ["Speech used by model", _seconds(prediction.get("seconds_used"))],
        *[row for row in _quality_rows(quality) if row[0] not in ("Duration", "Net speech (voice activity)", "SNR method")],
        ["Model", text(f"{model.get('name', '-')}", "cell")],
    ]
    return grid(rows, [36 * mm, FRAME_WIDTH - 102 * mm - 36 * mm], header=False, shade_first_column=True)


def _speaker_page(ctx: ReportContext, number: int, speaker: SpeakerFindings) -> list[Flowable]:
    prediction = speaker.prediction
    flowables: list[Flowable] = [markup(escape(f"3.{number} Speaker {_speaker_name(speaker, ctx.data)}"), "h2")]
    if "face" in speaker.images:
        pictures = [[_image(speaker.images["face"], 47 * mm),
                     _image(speaker.images["uncertainty"], 47 * mm) if "uncertainty" in speaker.images
                     else text("no uncertainty map recorded", "small"), _facts(speaker)],
                    [text("Estimated canonical face (ensemble mean)", "small"),
                     text("Uncertainty: per-pixel spread across ensemble members (brighter = less certain)", "small"), ""]]
        table = Table(pictures, colWidths=[51 * mm, 51 * mm, FRAME_WIDTH - 102 * mm], hAlign="LEFT")
        table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
        flowables.append(table)
    else:
        flowables += [text("No face estimate was made for this speaker."), _facts(speaker)]
    if "members" in speaker.images:
        flowables += [Spacer(1, 4), _image(speaker.images["members"], FRAME_WIDTH, max_height=27 * mm),
                      text("Faces of the individual ensemble members; where they differ, the estimate is uncertain.", "small")]
    if prediction.get("gender") or prediction.get("age"):
        flowables += [
            markup("Gender and age bracket", "h3"),
            _image(figures.attribute_png(prediction.get("gender", {}), probability_spread(prediction, "gender"),
                                         prediction.get("age", {}), probability_spread(prediction, "age")),
                   FRAME_WIDTH, max_height=44 * mm),
            text("Bars: calibrated probability of each class (ensemble mean); whiskers: \u00b11 standard deviation "
                 "across ensemble members. Classes are perceived gender and age bracket as annotated in the "
                 "training data.", "small"),
        ]
    warnings = list(dict.fromkeys(speaker.warnings))
    if warnings:
        flowables += [markup("Warnings", "h3"), bullets([sentence(w) for w in warnings])]
    closing: list[Flowable] = [markup("What this estimate is worth", "h3"),
                               boxed([text(line, "confidence") for line in confidence_statement(prediction, ctx.validation, warnings)])]
    if speaker.image_sha256:
        closing += [Spacer(1, 4), *[mono(f"{kind}.png sha256 {sha}", "code") for kind, sha in speaker.image_sha256.items()]]
    return flowables + [KeepTogether(closing)]


# -- 4 method --------------------------------------------------------------------------------

def _json(value: object) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))


def method_section(ctx: ReportContext) -> list[Flowable]:
    data = ctx.data
    flowables: list[Flowable] = [
        PageBreak(), markup(SECTION_TITLES[3], "h1"),
        text(f"Analysis run {data.run.id} ran these steps, in this order, each recorded as an activity in the case "
             "store with its parameters, inputs and outputs (SHA-256), software versions and times, and logged at start "
             "and end in the custody log. Denoised audio, speech regions and diarization are kept as vault artifacts."),
        key_values([
            ("Run", text(f"run {data.run.id} by {data.run.examiner}, {_utc(data.run.started_utc)} to "
                         f"{_utc(data.run.ended_utc)}, evidence {', '.join(map(str, data.run.evidence_ids))}", "cell")),
            ("Voice-to-face model", [mono(f"{name} sha256 {sha}") for name, sha in _models(data)] or text("none ran", "cell")),
            ("Run parameters", mono(_json(data.run.parameters), "code")),
        ]),
        markup("Steps", "h3"),
    ]
    rows: list[list[object]] = [["#", "step", "time (UTC)", "parameters, inputs, outputs, model"]]
    for activity in data.activities:
        detail = [mono("parameters " + _json(activity.parameters), "code"),
                  *[mono("input " + _json(item), "code") for item in activity.inputs],
                  *[mono("output " + _json(item), "code") for item in activity.outputs]]
        if activity.model_name or activity.model_sha256:
            detail.append(mono(f"model {activity.model_name} sha256 {activity.model_sha256}", "code"))
        rows.append([str(activity.id), text(f"{activity.kind} ({activity.status})", "cell"),
                     markup(f"{activity.started_utc[:10]}<br/>{activity.started_utc[11:23]} \u2013<br/>"
                            f"{(activity.ended_utc or '-')[11:23]}", "cell"), detail])
    flowables.append(grid(rows, [9 * mm, 24 * mm, 26 * mm, FRAME_WIDTH - 59 * mm]))
    flowables.extend(_software(data))
    return flowables


def _models(data: ReportData) -> list[tuple[str, str]]:
    """Each (model name, SHA-256) the run's activities used, in order of first use."""
    return list(dict.fromkeys((a.model_name, a.model_sha256) for a in data.activities if a.model_name or a.model_sha256))


def _software(data: ReportData) -> list[Flowable]:
    sets: dict[str, list[int]] = {}
    for activity in data.activities:
        sets.setdefault(_json(activity.software), []).append(activity.id)
    flowables: list[Flowable] = []
    for software, ids in sets.items():
        block: list[Flowable] = [] if flowables else [markup("Software versions", "h3")]
        if len(sets) > 1:
            block.append(text(f"Activities {', '.join(map(str, ids))}:", "small"))
        versions = [[name, version] for name, version in json.loads(software).items()]
        half = (len(versions) + 1) // 2
        halves = [grid([["package", "version"], *part], [30 * mm, 55 * mm]) if part else ""
                  for part in (versions[:half], versions[half:])]
        table = Table([halves], colWidths=[FRAME_WIDTH / 2] * 2, hAlign="LEFT")
        table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
        flowables.append(KeepTogether([*block, table]))
    return flowables


# -- 5 validation ------------------------------------------------------------------------------

def _group_rows(groups: tuple[GroupFigures, ...], label: str) -> list[list[object]]:
    return [[label, "clips", "gender accuracy", "age exact", "age within one"],
            *[[g.group, "-" if g.clips is None else str(g.clips), percent(g.gender_accuracy), percent(g.age_exact),
               percent(g.age_within_one)] for g in groups]]


def validation_section(ctx: ReportContext) -> list[Flowable]:
    figures_ = ctx.validation
    flowables: list[Flowable] = [PageBreak(), markup(SECTION_TITLES[4], "h1")]
    if figures_ is None:
        return flowables + [boxed([text("Measured validation figures are unavailable: no validation file was found "
                                        "for the model. The model's error rates are therefore unknown, and no "
                                        "estimate in this report can be given a measured reliability.", "notice")])]
    used = sorted({a.model_sha256 for a in ctx.data.activities if a.model_sha256})
    flowables += [
        text(f"Figures measured by {figures_.protocol or 'cross-validation'}, quoted from the model's validation file."),
        key_values([
            ("Validation file", [text(figures_.source.rsplit("/", 1)[-1], "cell"), mono(f"sha256 {figures_.sha256}")]),
            ("Model validated", [text(figures_.model_name or "-", "cell"), mono(f"sha256 {figures_.model_sha256 or '-'}")]),
            ("Training data", text(f"{figures_.training_clips or '-'} clips. {figures_.training_description}", "cell")),
        ]),
    ]
    if used and figures_.model_sha256 not in used:
        flowables.append(boxed([text("The model used in this run (sha256 " + ", ".join(used) + ") is not the model "
                                     "these figures were measured on; they do not apply to its estimates.", "notice")]))
    flowables += [
        markup("Attributes", "h3"),
        grid([["measure", "value", "clips"],
              ["gender accuracy (most probable class)", percent(figures_.gender_accuracy), str(figures_.gender_clips or "-")],
              ["gender expected calibration error", "not measured" if figures_.gender_ece is None else f"{figures_.gender_ece:.3f}", ""],
              ["age bracket exactly right", percent(figures_.age_exact), str(figures_.age_clips or "-")],
              ["age bracket right or one off", percent(figures_.age_within_one), ""]],
             [75 * mm, 30 * mm, 20 * mm]),
    ]
    if figures_.retrieval:
        pool = figures_.retrieval_pool_size or "?"
        flowables += [markup("Face retrieval", "h3"),
                      text(f"How often the true canonical face was among the k closest of {pool} candidate faces "
                           "(closest to the estimated face), against chance.", "small"),
                      grid([["k", "recall@k", "chance"], *[[str(r.k), percent(r.rate), percent(r.chance)] for r in figures_.retrieval]],
                           [20 * mm, 30 * mm, 30 * mm])]
    if figures_.by_seconds:
        flowables += [markup("Accuracy by seconds of speech", "h3"),
                      grid([["speech heard", "gender accuracy", "age exact", "age within one"],
                            *[[f"{row.seconds:g} s", percent(row.gender_accuracy), percent(row.age_exact),
                               percent(row.age_within_one)] for row in figures_.by_seconds]],
                           [30 * mm, 35 * mm, 30 * mm, 35 * mm])]
    for groups, label in ((figures_.by_gender, "annotated gender"), (figures_.by_age, "annotated age bracket")):
        if groups:
            flowables += [markup(f"Breakdown by {label}", "h3"),
                          grid(_group_rows(groups, label), [35 * mm, 18 * mm, 30 * mm, 25 * mm, 30 * mm])]
    return flowables


# -- 6 caveats ---------------------------------------------------------------------------------

def caveats_section(ctx: ReportContext) -> list[Flowable]:
    flowables: list[Flowable] = [PageBreak(), markup(SECTION_TITLES[5], "h1")]
    for number, template in enumerate(ctx.caveats, start=1):
        flowables += [markup(escape(f"6.{number} {template.title}"), "h2"), *markdown(template.body)]
    specific = case_caveats(ctx.data, ctx.validation)
    flowables += [markup(f"6.{len(ctx.caveats) + 1} Caveats specific to this case", "h2")]
    flowables.append(bullets(specific) if specific else
                     text("No case-specific warnings were raised by the analysis; the general caveats above still apply."))
    flowables += [CondPageBreak(40 * mm), markup("Caveat templates", "h3"),
                  text("The general caveats above are printed verbatim from these versioned files.", "small"),
                  grid([["file", "version", "SHA-256"],
                        *[[t.name, str(t.version), mono(t.sha256)] for t in ctx.caveats]],
                       [52 * mm, 14 * mm, FRAME_WIDTH - 66 * mm])]
    return flowables


# -- appendix ------------------------------------------------------------------------------------

def custody_appendix(ctx: ReportContext) -> list[Flowable]:
    flowables: list[Flowable] = [
        PageBreak(), markup(SECTION_TITLES[6], "h1"),
        text(f"The complete custody log of case {ctx.data.case_id} when this report was written: {len(ctx.data.custody)} "
             "events. Each entry hash is the SHA-256 of the canonical JSON of the event's fields and the previous "
             "entry hash, so the last entry hash (printed on the cover) pins every event before it. Times are UTC. "
             "Details are shown with spaces for legibility; the hash is over their canonical form (keys sorted, "
             "no spaces, UTF-8)."),
    ]
    rows: list[list[object]] = [["seq", "event", "details and hashes"]]
    for event in ctx.data.custody:
        hashes = [mono(f"details {_json(json.loads(event.details))}", "code")]
        if event.object_sha256:
            hashes.append(mono(f"object sha256 {event.object_sha256}", "code"))
        hashes += [mono(f"prev  {event.prev_hash}", "code"), mono(f"entry {event.entry_hash}", "code")]
        rows.append([str(event.seq),
                     [text(event.ts_utc.replace("T", " "), "cell"), text(event.examiner, "cell"),
                      markup(f"<b>{escape(event.action)}</b> {escape(event.object_kind)} {escape(event.object_id)}", "cell")],
                     hashes])
    flowables.append(grid(rows, [10 * mm, 40 * mm, FRAME_WIDTH - 50 * mm]))
    return flowables
