"""The report's back: Section 4 method, 5 validation, 6 caveats, Appendix A custody log."""

from __future__ import annotations

import json

from reportlab.lib.units import mm
from reportlab.platypus import CondPageBreak, Flowable, KeepTogether, PageBreak, Table, TableStyle

from forensic_s2f.report.caveats import case_caveats
from forensic_s2f.report.confidence import percent
from forensic_s2f.report.context import SECTION_TITLES, ReportContext, utc
from forensic_s2f.report.data import ReportData
from forensic_s2f.report.layout import FRAME_WIDTH, boxed, bullets, escape, grid, key_values, markdown, markup, mono, text
from forensic_s2f.report.validation import GroupFigures, ValidationFigures

# -- 4 method --------------------------------------------------------------------------------

def _json(value: object) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))


def method_section(ctx: ReportContext) -> list[Flowable]:
    data = ctx.data
    denoised = data.run.options.get("denoise", True)  # (False: `case analyze --no-denoise`)
    side_by_side = "denoising runs beside voice activity and quality, and " if denoised else "this run did not denoise; "
    flowables: list[Flowable] = [
        PageBreak(), markup(SECTION_TITLES[3], "h1"),
        text(f"Analysis run {data.run.id} ran these steps, listed in the order they started ({side_by_side}two speakers' "
             "face estimates run at a time), each recorded as an activity in the case store with its parameters, inputs "
             "and outputs (SHA-256), software versions and times, and logged at start and end in the custody log. "
             f"{'Denoised audio, speech' if denoised else 'Speech'} regions and diarization are kept as vault artifacts."),
        key_values([
            ("Run", text(f"run {data.run.id} by {data.run.examiner}, {utc(data.run.started_utc)} to "
                         f"{utc(data.run.ended_utc)}, evidence {', '.join(map(str, data.run.evidence_ids))}", "cell")),
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
        versions = [[name, mono(version, "code") if name.startswith("sha256 ") else version]  # (a digest wraps evenly in mono)
                    for name, version in json.loads(software).items()]
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
              ["age bracket right or one off", percent(figures_.age_within_one), ""],
              ["age expected calibration error", "not measured" if figures_.age_ece is None else f"{figures_.age_ece:.3f}", ""]],
             [75 * mm, 30 * mm, 20 * mm]),
    ]
    if figures_.age_estimates_given:
        given = ", ".join(f"{label} {count}" for label, count in figures_.age_estimates_given)
        flowables.append(text(f"Age estimates given in validation (clips per bracket the estimate was centred on): "
                              f"{given}. The estimate is the bracket whose own and adjacent brackets hold the most "
                              "probability, so it is scored right when the true bracket is it or a neighbour.", "small"))
    if figures_.retrieval:
        pool = figures_.retrieval_pool_size or "?"
        flowables += [markup("Face retrieval", "h3"),
                      text(f"How often the true canonical face was among the k closest of {pool} candidate faces "
                           "(closest to the estimated face), against chance.", "small"),
                      *_retrieval_table(figures_)]
    if figures_.by_seconds:
        flowables += [markup("Accuracy by seconds of speech", "h3"),
                      grid([["heard of each clip", "gender accuracy", "age exact", "age within one", "face recall@10"],
                            *[[f"whole clip ({row.seconds:g} s)" if row.whole_clip else f"{row.seconds:g} s of speech",
                               percent(row.gender_accuracy), percent(row.age_exact),
                               percent(row.age_within_one), percent(dict(row.recall).get(10))]
                              for row in figures_.by_seconds]],
                           [34 * mm, 32 * mm, 26 * mm, 30 * mm, 30 * mm])]
    for groups, label in ((figures_.by_gender, "annotated gender"), (figures_.by_age, "annotated age bracket")):
        if groups:
            flowables += [markup(f"Breakdown by {label}", "h3"),
                          grid(_group_rows(groups, label), [35 * mm, 18 * mm, 30 * mm, 25 * mm, 30 * mm])]
    return flowables


def _retrieval_table(figures_: ValidationFigures) -> list[Flowable]:
    group_mean = dict(figures_.group_mean_recall)
    if not group_mean:
        return [grid([["k", "recall@k", "chance"], *[[str(r.k), percent(r.rate), percent(r.chance)] for r in figures_.retrieval]],
                     [20 * mm, 30 * mm, 30 * mm])]
    return [grid([["k", "recall@k", "chance", "mean face of the true gender and age bracket"],
                  *[[str(r.k), percent(r.rate), percent(r.chance), percent(group_mean.get(r.k))] for r in figures_.retrieval]],
                 [20 * mm, 30 * mm, 30 * mm, 60 * mm]),
            text("The last column is a reference made without hearing any voice: each clip's true gender and age bracket "
                 "alone, as the mean face of that group. A voice-based face that scores no better than it conveys no "
                 "more than gender and age.", "small")]


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
