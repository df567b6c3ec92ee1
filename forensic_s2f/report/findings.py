"""Sections 2 and 3: findings per recording (quality, timeline, speakers) and one page per speaker."""

from __future__ import annotations

from reportlab.lib.units import mm
from reportlab.platypus import CondPageBreak, Flowable, KeepTogether, PageBreak, Spacer, Table, TableStyle

from forensic_s2f.numbers import probability_text
from forensic_s2f.report import figures
from forensic_s2f.report.caveats import count_sentence, sentence
from forensic_s2f.report.confidence import age_estimate_text, confidence_statement, most_probable, probability_spread
from forensic_s2f.report.context import SECTION_TITLES, ReportContext, image, seconds
from forensic_s2f.report.data import EvidenceFindings, ReportData, SpeakerFindings
from forensic_s2f.report.layout import FRAME_WIDTH, boxed, bullets, escape, grid, markup, mono, text


def _speaker_name(speaker: SpeakerFindings, data: ReportData) -> str:
    filename = next(item.evidence.filename for item in data.findings if item.evidence.id == speaker.evidence_id)
    return f"{speaker.label} in evidence {speaker.evidence_id} ({filename})"



# -- 2 findings ------------------------------------------------------------------------------

QUALITY_ROWS = (
    ("duration_seconds", "Duration", lambda v: f"{v:.2f} s"),
    ("speech_seconds", "Net speech (voice activity)", lambda v: f"{v:.2f} s"),
    ("snr_db", "Signal-to-noise ratio (estimated)", lambda v: f"{v:.1f} dB"),
    ("clipping_fraction", "Clipped samples", lambda v: f"{100 * v:.3f} %"),
    ("full_scale_fraction", "Samples within 0.5 dB of full scale", lambda v: f"{100 * v:.3f} %"),
    ("effective_bandwidth_hz", "Effective bandwidth", lambda v: f"{v / 1000:.1f} kHz"),
    ("is_telephone_band", "Telephone band", lambda v: "yes" if v else "no"),
    ("dc_offset", "DC offset (mean of the waveform)", lambda v: f"{round(v, 4) + 0.0:+.4f} of full scale"),
    ("overlap_fraction", "Overlapped speech", lambda v: f"{100 * v:.1f} % of speech"),
)
NEEDS_SPEECH = {"overlap_fraction"}  # measured on speech: with none, there was nothing to measure


def _quality_rows(quality: dict) -> list[list[object]]:
    silent = quality.get("speech_seconds") == 0
    rows = [[label, render(quality[key]) if quality.get(key) is not None and not (silent and key in NEEDS_SPEECH)
             else "not measured"]
            for key, label, render in QUALITY_ROWS if key in quality]
    if quality.get("snr_method"):
        rows.append(["SNR method", str(quality["snr_method"])])
    return rows or [["quality", "not measured"]]


def _top_text(probabilities: dict) -> str:
    return _estimate_text(most_probable(probabilities))


def _estimate_text(estimate: tuple[str, float] | None) -> str:
    return "-" if estimate is None else f"{estimate[0]} ({probability_text(estimate[1])})"


def findings_section(ctx: ReportContext) -> list[Flowable]:
    flowables: list[Flowable] = [PageBreak(), markup(SECTION_TITLES[1], "h1")]
    count_text = count_sentence(ctx.data.run)
    for item in ctx.data.findings:
        flowables.extend(_evidence_findings(item, count_text))
    return flowables


def _evidence_findings(item: EvidenceFindings, count_text: str) -> list[Flowable]:
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
    flowables.append(KeepTogether([
        markup("Who spoke when", "h3"),
        image(figures.timeline_png(item.segments, item.evidence.duration_seconds, labels), FRAME_WIDTH),
        text(f"{len(item.segments)} speech segments attributed to {len(labels)} speaker label(s); labels are "
             f"arbitrary names within this recording, in order of first appearance. {count_text}", "small"),
    ]))
    if not item.speakers:
        flowables.append(text("No speaker was found in this recording, so no voice-to-face estimate was made."))
        return flowables
    rows = [["speaker", "speech", "share", "segments", "used by model", "gender", "age bracket", "quality flags"]]
    for speaker in item.speakers:
        share = speaker.speech_seconds / total_speech if total_speech else 0.0
        rows.append([
            speaker.label, seconds(speaker.speech_seconds), f"{100 * share:.0f} %", str(speaker.segment_count),
            seconds(speaker.prediction.get("seconds_used")), _top_text(speaker.prediction.get("gender", {})),
            text(age_estimate_text(speaker.prediction), "cell"),
            text("; ".join(dict.fromkeys(speaker.warnings)) or "none", "cell"),
        ])
    widths = [23 * mm, 14 * mm, 12 * mm, 19 * mm, 16 * mm, 22 * mm, 30 * mm]
    flowables.append(KeepTogether([
        markup("Speakers", "h3"), grid(rows, widths + [FRAME_WIDTH - sum(widths)]),
        text("Gender: the most probable class, with its probability. Age bracket: the model's estimate, a bracket "
             "and its neighbours (the rule validated: right or one bracket off) with its probability, then the single "
             "most probable bracket with its own. See the speaker pages in Section 3 for all classes, their "
             "uncertainty and what they are worth.", "small")]))
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
    measured = [row for row in _quality_rows(quality) if row[0] not in ("Duration", "Net speech (voice activity)", "SNR method")]
    if quality.get("snr_db") is not None and quality.get("snr_method"):  # (how, and on what: it reads unlike the recording's)
        measured = [[label, text(f"{value} ({quality['snr_method']}, on the speech given to the model)", "cell")
                     if label == "Signal-to-noise ratio (estimated)" else value] for label, value in measured]
    rows = [
        ["Speech attributed", seconds(speaker.speech_seconds)],
        ["Segments", str(speaker.segment_count)],
        ["Speech used by model", seconds(prediction.get("seconds_used"))],
        *measured,
        ["Model", text(f"{model.get('name', '-')}", "cell")],
    ]
    return grid(rows, [36 * mm, FRAME_WIDTH - 102 * mm - 36 * mm], header=False, shade_first_column=True)


def _speaker_page(ctx: ReportContext, number: int, speaker: SpeakerFindings) -> list[Flowable]:
    prediction = speaker.prediction
    flowables: list[Flowable] = [markup(escape(f"3.{number} Speaker {_speaker_name(speaker, ctx.data)}"), "h2")]
    if "face" in speaker.images:
        pictures = [[image(speaker.images["face"], 47 * mm),
                     image(speaker.images["uncertainty"], 47 * mm) if "uncertainty" in speaker.images
                     else text("no uncertainty map recorded", "small"), _facts(speaker)],
                    [text("Estimated canonical face (ensemble mean): group-level traits, not this person's "
                          "appearance", "small"),
                     text("Uncertainty: per-pixel spread across ensemble members (brighter = less certain)", "small"), ""]]
        table = Table(pictures, colWidths=[51 * mm, 51 * mm, FRAME_WIDTH - 102 * mm], hAlign="LEFT")
        table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
        flowables.append(table)
    else:
        flowables += [text("No face estimate was made for this speaker."), _facts(speaker)]
    if "members" in speaker.images:
        flowables += [Spacer(1, 4), image(speaker.images["members"], FRAME_WIDTH, max_height=27 * mm),
                      text("Faces of the individual ensemble members; where they differ, the estimate is uncertain.", "small")]
    if prediction.get("gender") or prediction.get("age"):
        flowables += [
            markup("Gender and age bracket", "h3"),
            image(figures.attribute_png(prediction.get("gender", {}), probability_spread(prediction, "gender"),
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


