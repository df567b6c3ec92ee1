"""The report's front: cover (with summary and contents) and Section 1, the evidence table."""

from __future__ import annotations

from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import CondPageBreak, Flowable, KeepTogether, PageBreak, Spacer
from reportlab.platypus.tableofcontents import TableOfContents

from forensic_s2f.report.caveats import count_choice, warning_count
from forensic_s2f.report.context import SECTION_TITLES, ReportContext, utc
from forensic_s2f.report.data import ReportData
from forensic_s2f.report.layout import STYLES, boxed, escape, key_values, markup, mono, needs_code_points, text
from forensic_s2f.store.case_store import receipt_text
from forensic_s2f.store.runs import shown_status


def contents() -> TableOfContents:
    """The table of contents; reportlab fills in the section titles and pages over two passes."""
    toc = TableOfContents(dotsMinLevel=0)
    toc.levelStyles = [ParagraphStyle("toc", parent=STYLES["body"], leftIndent=0, firstLineIndent=0, spaceAfter=1)]
    return toc


# -- cover -------------------------------------------------------------------------------

CONTENTS_HEIGHT = 60 * mm  # the heading and the seven entries of the table of contents

CODE_POINT_NOTE = (
    "Names and other recorded text are printed character for character. A character this report's fonts cannot "
    "draw as written (Chinese, Japanese or Korean script, emoji, right-to-left script, a control or format "
    "character such as a line break or a direction override, a space other than the plain space) is printed as "
    "its Unicode code point in double brackets: \u27e6U+9332\u27e7 stands for the one character U+9332, and a "
    "literal \u27e6 is printed as \u27e6U+27E6\u27e7. The command fs2f case show CASE --json prints the same "
    "text as stored."
)

def summary_text(data: ReportData) -> str:
    """The cover's plain-language summary of what was analysed and found."""
    total = sum(item.evidence.duration_seconds for item in data.findings)
    parts = [
        f"This report sets out the results of analysis run {data.run.id} of case {data.case_id}, started "
        f"{utc(data.run.started_utc)} by {data.run.examiner}, on {len(data.findings)} evidence "
        f"recording{'s' if len(data.findings) != 1 else ''} ({total:.1f} s of audio in all)."
    ]
    found = [f"{len(item.speakers)} in evidence {item.evidence.id} ({item.evidence.filename})" for item in data.findings]
    count = len(data.speakers)
    estimated = sum(1 for speaker in data.speakers if speaker.prediction)
    if count == 0:
        parts.append("No speaker was found in any recording, so no voice-to-face estimate was made; "
                     "the findings section shows what was measured instead.")
    else:
        each = "each speaker" if estimated == count else f"{estimated} of the {count} speakers"
        choice = count_choice(data.run.options)
        diarization = "Speaker diarization (who spoke when)"
        if choice is not None:  # (a fixed count is the examiner's, not a finding)
            diarization += f", with the number of speakers in each recording {choice} by the examiner,"
        verb = "gave" if choice is not None and choice.startswith("fixed") else "found"
        parts.append(f"{diarization} {verb} {count} speaker{'s' if count != 1 else ''} ({'; '.join(found)}).")
        if len(data.findings) > 1:  # (labels are per recording: SPEAKER_00 of one is not SPEAKER_00 of another)
            parts.append("Speakers are found in each recording on its own and not matched across recordings: one "
                         "person heard in two recordings is counted in each, and the same label in two recordings "
                         "need not be the same person.")
        if estimated:
            parts.append(f"For {each} a model estimated from the voice alone the probable gender, the probable age "
                         "bracket and a canonical face, with the disagreement between the members of a model "
                         "ensemble as a measure of uncertainty.")
        if estimated == 0:
            parts.append("No voice-to-face estimate was made for any of them (their pages in Section 3 say why).")
        elif estimated < count:
            parts.append(f"No estimate was made for the other {count - estimated} (their pages in Section 3 say why).")
    warnings = warning_count(data)
    if warnings:
        parts.append(f"The analysis recorded {warnings} warning{'s' if warnings != 1 else ''} (about the audio, the "
                     "amount of speech or the speakers found); each is listed with its finding and in Section 6, "
                     "among the caveats specific to this case.")
    parts.append("The estimates are statistical and describe group-level traits: they are not portraits and not "
                 "identification evidence. Section 5 gives the model's measured error rates and Section 6 the "
                 "caveats that apply.")
    return " ".join(parts)


def _other_runs(data: ReportData) -> str:
    """The case's other analysis runs when the report was written: this report covers one run only."""
    if not data.other_runs:
        return "; the case's only analysis run"
    listed = ", ".join(f"run {run_id} ({shown_status(status)})" for run_id, status in data.other_runs)
    return f"; this report covers this run only; the case's other runs when it was written: {listed}"


def cover(ctx: ReportContext) -> list[Flowable]:
    data = ctx.data
    title = data.case_title or "untitled case"
    return [
        markup("Forensic speaker analysis report", "title"),
        text(f"Case {data.case_id}: {title}", "subtitle"),
        key_values([
            ("Case", text(f"{data.case_id} \u2014 {title} (opened {data.case_created_utc[:10]} by {data.case_created_by})", "cell")),
            ("Report id", [mono(ctx.report_id),
                           text("derived from the report's content (case, evidence, run, results, provenance, caveat "
                                "templates, validation figures, software version): the same run reported again with "
                                "the same templates gives the same id and the same content, apart from the date "
                                "written, the examiner writing it, the custody log, which grows, and the case's other "
                                "runs named on the cover", "small")]),
            ("Analysis run", text(f"run {data.run.id}, {utc(data.run.started_utc)} to {utc(data.run.ended_utc)}, "
                                  f"by {data.run.examiner}{_other_runs(data)}", "cell")),
            ("Report written by", text(ctx.examiner, "cell")),
            ("Date written", text(utc(ctx.written_utc), "cell")),
            ("Software", text(f"fs2f {ctx.software_version}", "cell")),
            ("Custody-log head", [mono(data.log_head),
                                  text(f"entry hash of event {data.custody[-1].seq if data.custody else 0}, the last "
                                       "event when this report was written; it pins the log printed in Appendix A", "small")]),
            ("Integrity", text(f"at the time of writing the custody chain of {len(data.custody)} events recomputed "
                               f"correctly and all {data.vault_objects_verified} evidence and artifact records matched "
                               f"their vault files' SHA-256 ({data.vault_files_verified} distinct files: identical bytes "
                               "are stored once)", "cell")),
        ]),
        Spacer(1, 10),
        markup("Summary", "h2"),
        text(summary_text(data)),
        *([markup(CODE_POINT_NOTE, "small")] if needs_code_points([data, ctx.examiner]) else []),
        Spacer(1, 6),
        boxed([markup("<b>Read before use.</b> The faces, genders and age brackets in this report are statistical "
                      "estimates made from a voice by a model with measured, non-negligible error rates. They are "
                      "<b>not portraits</b> and <b>not identification evidence</b>; use them for investigative "
                      "purposes only, together with the caveats in Section 6.", "notice")]),
        Spacer(1, 10),
        CondPageBreak(CONTENTS_HEIGHT),  # (a cover too long for one page moves the contents whole)
        markup("Contents", "h2"),
        contents(),  # (not inside a KeepTogether: reportlab fills a table of contents only at the top level)
    ]


# -- 1 evidence ------------------------------------------------------------------------------

def evidence_section(ctx: ReportContext) -> list[Flowable]:
    data = ctx.data
    analysed = set(data.run.evidence_ids)
    flowables: list[Flowable] = [PageBreak(), markup(SECTION_TITLES[0], "h1"),
                                 text("Every evidential recording of the case as ingested into the vault. SHA-256 is of the "
                                      "original bytes; the vault copy is read-only and was re-hashed when this report was written. "
                                      "Evidence and run numbers are the case store's, counted across all its cases.")]
    for item in data.evidence:
        note = "" if item.id in analysed else " (not analysed in this run)"
        flowables.append(KeepTogether([
            markup(escape(f"Evidence {item.id}: {item.filename}{note}"), "h3"),
            key_values([
                ("Original file", text(item.filename, "cell")),
                ("Path at intake", text(item.original_path, "cell")),
                *([("File read", text(f"{item.resolved_path} (where the path given led)", "cell"))] if item.resolved_path else []),
                ("SHA-256", mono(item.sha256)),
                ("Size", text(f"{item.size_bytes:,} bytes", "cell")),
                ("Media format", text(f"{item.media_type}, {item.codec}, {item.sample_rate_hz} Hz, "
                                      f"{item.channels} channel{'s' if item.channels != 1 else ''}", "cell")),
                ("Duration", text(f"{item.duration_seconds:.2f} s", "cell")),
                ("Intake", text(f"{utc(item.ingested_utc)} by {item.examiner}", "cell")),
                ("Source", text(item.source or "not recorded", "cell")),
                ("Note", text(item.note or "none", "cell")),
                *[("Received again", text(receipt_text(receipt), "cell")) for receipt in item.received_again],
            ]),
        ]))
    return flowables


