"""`fs2f` — the command line. Only wiring: parse options, call the stages, print results.

Every listing command takes `--json`. Expected failures (`Fs2fError`) print one line
`error: …` on stderr and exit non-zero, never a traceback.
"""

from __future__ import annotations

import atexit
import errno
import gc
import json
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from forensic_s2f import __version__
from forensic_s2f.cli_audit import audit_app
from forensic_s2f.cli_model import model_app
from forensic_s2f.cli_terminal import (ExaminerOption, JsonOption, ReadOnlyOption, close_stores, err, head_line,
                                       open_for_reading, open_store, out, plain_line, print_json, progress_bar,
                                       text_table)
from forensic_s2f.config import examiner_name, require_outside_store, require_text, store_home
from forensic_s2f.errors import (STOP_SIGNALS, Fs2fError, InputError, StoreError, Terminated, UsageProblem, command_ended,
                                  forget_stops, hold_stop, keep_lost_stop, mark_command_ended, note_recorded,
                                  raise_lost_stop, recorded_as_failed, recorded_before_stop, stop_received,
                                  stops_held)
from forensic_s2f.numbers import percent_text

if TYPE_CHECKING:
    from forensic_s2f.store.case_store import CaseStore
    from forensic_s2f.store.custody import Finding

# What is left at exit is mostly the libraries' own objects (torch, scipy, …): exempt them from
# the collector, or the interpreter spends about 0.7 s scanning them on the way out.
atexit.register(gc.freeze)

app = typer.Typer(
    name="fs2f", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    help="Forensic case analysis: evidence vault, chain of custody, diarization, voice-to-face estimates.",
)
case_app = typer.Typer(no_args_is_help=True, help="Open cases, ingest evidence, analyse, report.")
app.add_typer(case_app, name="case")
app.add_typer(audit_app, name="audit")
app.add_typer(model_app, name="model")

def _evidence_record(evidence) -> dict[str, Any]:
    return {
        "id": evidence.id,
        "original_filename": evidence.original_filename,
        "original_path": evidence.original_path,
        "size_bytes": evidence.size_bytes,
        "sha256": evidence.sha256,
        "media_type": evidence.media_type,
        "codec": evidence.codec,
        "sample_rate_hz": evidence.sample_rate_hz,
        "channels": evidence.channels,
        "duration_seconds": evidence.duration_seconds,
        "source": evidence.source,
        "note": evidence.note,
        "examiner": evidence.examiner,
        "ingested_utc": evidence.ingested_utc,
    }


def _evidence_table(title: str, evidence: list) -> Table:
    return text_table(
        title,
        ["id", "file", "format", "duration (s)", "bytes", "sha256", "ingested (UTC)"],
        [
            [e.id, e.original_filename, f"{e.codec} {e.sample_rate_hz} Hz {e.channels} ch",
             f"{e.duration_seconds:.2f}", e.size_bytes, e.sha256[:16], e.ingested_utc[:19]]
            for e in evidence
        ],
    )


@case_app.command("add")
def case_add(
    case_id: Annotated[str, typer.Argument(help="Case id: letters, digits, '.', '_', '-'.")],
    files: Annotated[list[Path], typer.Argument(help="Evidential recordings to ingest.")],
    examiner: ExaminerOption = None,
    source: Annotated[str, typer.Option(help="Where the evidence came from (seizure, exhibit number).")] = "",
    note: Annotated[str, typer.Option(help="Acquisition note.")] = "",
    title: Annotated[str, typer.Option(help="Case title, set when the case is created (refused for an existing case with another title).")] = "",
    as_json: JsonOption = False,
) -> None:
    """Ingest evidential recordings into a case (created on first use)."""
    from forensic_s2f.audio.decode import probe
    from forensic_s2f.store.case_store import IncomingFile
    from forensic_s2f.store.ids import validate_case_id
    from forensic_s2f.store.vault import FileState

    validate_case_id(case_id)
    name = examiner_name(examiner)
    for option, value in (("--source", source), ("--note", note), ("--title", title)):
        require_text(option, value)
    named: dict[tuple[int, int], Path] = {}
    checked: dict[Path, FileState] = {}  # (each file's state before its check: one that changes before
    for path in files:                    # its copy is in the vault is refused, see `Vault.put_file`)
        try:
            checked[path] = FileState.of(path)
        except OSError:
            continue  # (probe names what is wrong with it)
        first = named.setdefault((checked[path].device, checked[path].inode), path)
        if first is not path:  # (one file named twice, by any path, was logged as two receipts)
            raise InputError(path, f"the same file as {first}, named twice on the command line")
    incoming = []
    with progress_bar() as progress:
        task = progress.add_task("verifying audio", total=len(files))
        for path in files:
            info = probe(path)
            if path not in checked:
                raise InputError(path, "appeared while it was checked; take it in again")
            incoming.append(IncomingFile(path=path, info=info, checked=checked[path]))
            progress.advance(task)
    store = open_store(create=True)
    with stops_held():  # (a stop that comes as the evidence is recorded ends the command saying so)
        result = store.ingest(case_id, incoming, examiner=name, source=source, note=note, title=title)
        note_recorded(_intake_outcome(case_id, result))
    warned = {str(f.path): list(f.info.warnings) for f in incoming if f.info.warnings}
    if as_json:
        print_json({
            "case_id": case_id,
            "case_created": result.case_created,
            "added": [_evidence_record(e) for e in result.added],
            "duplicates": [{"file": str(p), "id": e.id, "sha256": e.sha256} for p, e in result.duplicates],
            "warnings": warned,
            "log_head_after": store.case_summary(case_id).head_hash,
        })
        return
    if result.case_created:
        out.print(plain_line(f"opened case {case_id}"))
    if result.added:
        out.print(_evidence_table(f"ingested into {case_id}", result.added))
    for path, warnings in warned.items():
        for warning in warnings:
            out.print(plain_line(f"{path}: warning: {warning}"))
    for path, existing in result.duplicates:
        out.print(plain_line(f"{path}: identical bytes already in case {case_id} as evidence {existing.id} (sha256 {existing.sha256}); not added again"))
    out.print(head_line(case_id, store.case_summary(case_id).head_hash))


def _intake_outcome(case_id: str, result: Any) -> str:
    """What an intake recorded, for a stop's line: "evidence 1, 2 was recorded in case C1"."""
    if not result.added:
        return f"nothing new was recorded in case {case_id} (identical bytes already there)"
    return f"evidence {', '.join(str(e.id) for e in result.added)} was recorded in case {case_id}"


@case_app.command("list")
def case_list(as_json: JsonOption = False, read_only: ReadOnlyOption = False) -> None:
    """List the cases in the store."""
    from forensic_s2f.store.db import StoreLayout, refuse_unsafe_files

    layout = StoreLayout(store_home())
    refuse_unsafe_files(layout.database)  # (a link leading nowhere is no empty store)
    summaries = open_for_reading(read_only).list_cases() if layout.exists() else []
    records = [
        {"case_id": s.case.id, "title": s.case.title, "created_utc": s.case.created_utc,
         "created_by": s.case.created_by, "evidence": s.evidence_count, "custody_events": s.event_count,
         "log_head": s.head_hash}
        for s in summaries
    ]
    if as_json:
        print_json(records)
        return
    out.print(text_table(
        f"cases in {store_home()}", ["case", "title", "created (UTC)", "by", "evidence", "events", "log head"],
        [[r["case_id"], r["title"], r["created_utc"], r["created_by"], r["evidence"], r["custody_events"], r["log_head"][:16]] for r in records],
    ))


@case_app.command("show")
def case_show(case_id: str, as_json: JsonOption = False, read_only: ReadOnlyOption = False) -> None:
    """Show a case: its evidence and the head of its custody log."""
    store = open_for_reading(read_only)
    with store.snapshot():  # (one state of the store, whatever is written meanwhile)
        _show_case(store, case_id, as_json)


def _show_case(store: CaseStore, case_id: str, as_json: bool) -> None:
    from forensic_s2f.store.case_store import receipt_text, repeat_receipts, resolved_paths
    from forensic_s2f.store.runs import shown_status

    summary = store.case_summary(case_id)
    evidence = store.evidence(case_id)
    events = store.custody_log(case_id)
    receipts, resolved = repeat_receipts(events), resolved_paths(events)
    findings = store.verify(case_id, rehash=False).findings
    if as_json:
        runs = []
        for r in store.runs(case_id):
            speakers, recordings = _run_rows(store, case_id, r.id) if r.status == "completed" else ([], [])
            runs.append({"run_id": r.id, "status": r.status, "started_utc": r.started_utc, "ended_utc": r.ended_utc,
                         "examiner": r.examiner, "evidence_ids": json.loads(r.evidence_ids_json), "error": r.error,
                         "parameters": json.loads(r.parameters_json), "speakers": speakers, "evidence": recordings})
        print_json({
            "case_id": summary.case.id, "title": summary.case.title, "created_utc": summary.case.created_utc,
            "created_by": summary.case.created_by, "custody_events": summary.event_count,
            "log_head": summary.head_hash,
            "evidence": [{**_evidence_record(e), "resolved_path": resolved.get(e.id),
                          "received_again": receipts.get(e.id, [])} for e in evidence],
            "runs": runs,
            "verification": {"passed": not findings, "findings": len(findings), "vault_rehashed": False,
                             "first": f"{findings[0].object}: {findings[0].problem}" if findings else None},
        })
        _warn_unverified(case_id, findings)
        return
    out.print(plain_line(f"case {summary.case.id}  {summary.case.title}".rstrip()))
    out.print(plain_line(f"opened {summary.case.created_utc} by {summary.case.created_by}; "
                         f"{summary.event_count} custody events, log head {summary.head_hash}"))
    out.print(_evidence_table("evidence", evidence))
    for evidence_id, path in resolved.items():
        out.print(plain_line(f"evidence {evidence_id}: the path given led to {path}, the file read"))
    for evidence_id, received in receipts.items():
        for receipt in received:
            out.print(plain_line(f"evidence {evidence_id} received again: {receipt_text(receipt)}"))
    runs = store.runs(case_id)
    if runs:
        out.print(text_table("analysis runs", ["run", "status", "started (UTC)", "ended (UTC)", "examiner", "evidence",
                                               "options"], [
            [r.id, shown_status(r.status), r.started_utc[:19], (r.ended_utc or "-")[:19], r.examiner,
             ", ".join(map(str, json.loads(r.evidence_ids_json))), _options_text(r.parameters_json)] for r in runs]))
        for run in runs:
            if run.status == "completed":
                speakers, recordings = _run_rows(store, case_id, run.id)
                out.print(_speakers_table(f"speakers in run {run.id}", speakers))
                for recording in recordings:
                    for warning in recording["warnings"]:
                        out.print(plain_line(f"run {run.id}, evidence {recording['evidence_id']}: warning: {warning}"))
    if not findings:
        out.print(plain_line(f"rows agree with the {summary.event_count} custody events; vault files present at their "
                             f"recorded sizes (`fs2f audit verify {case_id}` also re-hashes them)"))
    _warn_unverified(case_id, findings)


def _warn_unverified(case_id: str, findings: list[Finding]) -> None:
    """`case show`'s warning (stderr) for a case that fails verification: it shows the rows as
    stored, but they are not what the custody log recorded."""
    from forensic_s2f.store.case_store import failure_summary

    if findings:
        err.print(plain_line(f"warning: {failure_summary(case_id, findings)}; what is shown is not what the custody log "
                             f"recorded: run `fs2f audit verify {case_id}`"))


def _options_text(parameters_json: str) -> str:
    """A run's options as the examiner gave them, worded as in the report ('speakers: fixed at 2,
    denoise: off'; 'speakers: automatic, limited to 2 to 4'; 'speakers: automatic')."""
    from forensic_s2f.report.caveats import count_choice

    options = json.loads(parameters_json).get("options", {})
    choice = count_choice(options)
    speakers = "automatic" if choice is None else choice if choice.startswith("fixed") else f"automatic, {choice}"
    parts = [f"speakers: {speakers}"]
    if "denoise" in options:
        parts.append(f"denoise: {'on' if options['denoise'] else 'off'}")
    return ", ".join(parts)


def _top(probabilities: dict[str, float]) -> str:
    if not probabilities:
        return "-"
    label, p = max(probabilities.items(), key=lambda item: item[1])
    return f"{label} ({percent_text(p)})"


def _age(row: dict[str, Any]) -> str:
    """The model's age estimate as recorded: the bracket and its neighbours, as the within-one rule
    scores it, with its probability, then the most probable single bracket ('18-29 to 45-59 (91%); most
    probable 30-44 (47%)'); the most probable bracket for a prediction that recorded no estimate."""
    from forensic_s2f.s2f.dataset import age_range

    label, within = row.get("age_estimate"), row.get("age_estimate_within_one")
    if label not in row["age"]:
        return _top(row["age"])
    if within is None:
        return f"{label} ({percent_text(row['age'][label])})"
    return f"{age_range(label)} ({percent_text(within)}); most probable {_top(row['age'])}"


def _run_rows(store, case_id: str, run_id: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A completed run's rows, read once: one per speaker, and one per recording (its quality
    figures and warnings)."""
    by_id = {e.id: e for e in store.evidence(case_id)}
    names = {evidence_id: e.original_filename for evidence_id, e in by_id.items()}
    results = store.run_results(run_id)
    speakers = [{
        "run_id": run_id, "evidence_id": result.evidence_id, "file": names.get(result.evidence_id, "?"),
        "speaker": speaker.label, "speech_seconds": speaker.speech_seconds, "segments": speaker.segment_count,
        "gender": speaker.prediction.get("gender", {}), "age": speaker.prediction.get("age", {}),
        "age_estimate": speaker.prediction.get("age_estimate"),
        "age_estimate_within_one": speaker.prediction.get("age_estimate_within_one"),
        "seconds_used": speaker.prediction.get("seconds_used"), "warnings": speaker.warnings,
    } for result in results for speaker in result.speakers]
    recordings = [{"evidence_id": r.evidence_id, "file": names.get(r.evidence_id, "?"),
                   "sha256": by_id[r.evidence_id].sha256 if r.evidence_id in by_id else None,
                   "quality": r.quality, "warnings": r.warnings} for r in results]
    return speakers, recordings


def _speakers_table(title: str, rows: list[dict[str, Any]]) -> Table:
    return text_table(title, ["evidence", "speaker", "speech (s)", "segments", "gender", "age bracket", "warnings"], [
        [f"{r['evidence_id']} {r['file']}", r["speaker"], f"{r['speech_seconds']:.1f}", r["segments"],
         _top(r["gender"]), _age(r), "; ".join(r["warnings"]) or "-"] for r in rows])


@case_app.command("analyze")
def case_analyze(
    case_id: str,
    evidence_ids: Annotated[list[int] | None, typer.Option("--evidence", help="Evidence id to analyse (repeatable; default all).")] = None,
    num_speakers: Annotated[int | None, typer.Option(help="Exact number of speakers, if known.")] = None,
    min_speakers: Annotated[int | None, typer.Option(help="Lower bound on the number of speakers.")] = None,
    max_speakers: Annotated[int | None, typer.Option(help="Upper bound on the number of speakers.")] = None,
    no_denoise: Annotated[bool, typer.Option("--no-denoise", help=(
        "Skip the denoised copy (spectral gating), kept for listening; diarization and the face "
        "model hear the original, which measured better."))] = False,
    examiner: ExaminerOption = None,
    as_json: JsonOption = False,
) -> None:
    """Decode, denoise, diarize and estimate each speaker's traits; a new run every time."""
    from forensic_s2f.analysis import AnalysisOptions, CaseAnalysis

    name = examiner_name(examiner)
    store = open_store()
    evidence = store.evidence(case_id)
    if evidence_ids:
        unknown = sorted(set(evidence_ids) - {e.id for e in evidence})
        if unknown:
            raise StoreError(f"case {case_id!r} has no evidence {', '.join(map(str, unknown))}")
        evidence = [e for e in evidence if e.id in set(evidence_ids)]
    if not evidence:
        raise StoreError(f"case {case_id!r} has no evidence to analyse")
    options = AnalysisOptions(denoise=not no_denoise, num_speakers=num_speakers, min_speakers=min_speakers,
                              max_speakers=max_speakers)
    options.validate()
    with progress_bar() as progress:
        tasks: dict[str, Any] = {}

        def on_stage(stage: str) -> None:
            for other, task in tasks.items():
                if other != stage:
                    progress.update(task, completed=progress.tasks[task].total or 0)
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=None if stage == "speech2face" else len(evidence))
            progress.advance(tasks[stage])

        analysis = CaseAnalysis(store, case_id, name, options, on_stage=on_stage)
        run_id = analysis.run(evidence)
    rows, recordings = _run_rows(store, case_id, run_id)
    if as_json:
        print_json({"case_id": case_id, "run_id": run_id, "speakers": rows, "evidence": recordings,
                    "log_head_after": store.case_summary(case_id).head_hash})
        return
    out.print(plain_line(f"run {run_id} of case {case_id} completed"))
    for recording in recordings:
        for warning in recording["warnings"]:
            out.print(plain_line(f"evidence {recording['evidence_id']}: warning: {warning}"))
    out.print(_speakers_table(f"speakers found in run {run_id}", rows))
    out.print(head_line(case_id, store.case_summary(case_id).head_hash))


EXPORT_FORMATS = ("rttm", "csv", "json", "files")


@case_app.command("export")
def case_export(
    case_id: str,
    fmt: Annotated[str, typer.Option("--format", help="rttm, csv or json (csv: text starting like a "
                                     "spreadsheet formula gets a leading apostrophe; json keeps it as it is), or "
                                     "files: the files the run kept in the vault (denoised audio, faces, "
                                     "predictions), copied out and checked against their SHA-256.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder to write into (created if missing).")],
    run_id: Annotated[int | None, typer.Option("--run", help="Run id (default: the latest completed run).")] = None,
    examiner: ExaminerOption = None,
    as_json: JsonOption = False,
) -> None:
    """Export a run's segments and per-speaker predictions, or the files it kept; logged as a custody event."""
    from forensic_s2f.exports import STORED_INDEX, ExportedRun, export_files, stored_files
    from forensic_s2f.output_files import PendingFile, discard, place_all, refuse_taken, write_pending

    if fmt not in EXPORT_FORMATS:
        raise StoreError(f"unknown format {fmt!r}: use rttm, csv, json or files")
    name = examiner_name(examiner)
    require_outside_store(output)
    store = open_store()
    with store.snapshot():  # (one state of the store: the log head printed in it is that of the rows exported)
        run = store.completed_run(case_id, run_id)
        store.require_verified(case_id)
        steps = store.activities(case_id, run.id)
        exported = ExportedRun(case_id, run.id, run.status, run.examiner, run.started_utc, run.ended_utc,
                               json.loads(run.parameters_json), store.case_summary(case_id).head_hash,
                               json.loads(steps[0].software_json) if steps else {})
        results = store.run_results(run.id)
        if fmt == "files":
            kept, index = stored_files(store.artifacts(case_id), steps)
            files: dict[str, bytes | tuple[Path, str]] = {
                name: (store.artifact_path(artifact), artifact.sha256) for name, artifact in kept.items()}
            files[STORED_INDEX] = index
        else:
            files = dict(export_files(fmt, store.evidence(case_id), results, exported))
    pending: list[PendingFile] = []
    try:  # the files take their names only once the export is logged; a stop waits for both to end
        write_pending(output, files, pending)
        with stops_held():
            refuse_taken([item.path for item in pending])
            logged = store.record_event(case_id, name, "export", "run", str(run.id), details={
                "format": fmt, "output": str(output.resolve()),
                "files": [{"name": item.path.name, "sha256": item.sha256} for item in pending]})
            taken = place_all(pending)
            if not taken:
                note_recorded(f"the {fmt} export of run {run.id} was written to {output} and logged in case {case_id}")
    finally:
        discard(pending)
    if taken:
        raise StoreError(f"{taken[0]}: appeared while the export was written and was left as it is; the export "
                         f"is logged (`fs2f audit log {case_id}` names its files): export again into another folder")
    if as_json:
        print_json({"case_id": case_id, "run_id": run.id, "run_started_utc": run.started_utc, "format": fmt,
                    "evidence_ids": [r.evidence_id for r in results],
                    "files": [{"path": str(item.path), "sha256": item.sha256} for item in pending],
                    "log_head_after": logged.entry_hash})
        return
    out.print(plain_line(f"run {run.id} of case {case_id} ({run.started_utc}), evidence "
                         f"{', '.join(str(r.evidence_id) for r in results)}:"))
    for item in pending:
        out.print(plain_line(f"{item.path}  sha256 {item.sha256}"))
    out.print(head_line(case_id, logged.entry_hash))


@case_app.command("report")
def case_report(
    case_id: str,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="PDF to write (default: ./CASE-report-runN.pdf); never overwritten.")] = None,
    run_id: Annotated[int | None, typer.Option("--run", help="Run id (default: the latest completed run).")] = None,
    examiner: ExaminerOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write the PDF report of a run; recorded as an artifact and a custody event."""
    from forensic_s2f.report.publish import publish_report

    name = examiner_name(examiner)
    report = publish_report(open_store(), case_id, name, output, run_id)
    if as_json:
        print_json({"case_id": case_id, "run_id": report.run_id, "report_id": report.report_id,
                    "path": str(report.path), "sha256": report.sha256, "artifact_id": report.artifact_id,
                    "custody_log_head": report.log_head, "log_head_after": report.logged_head})
        return
    out.print(plain_line(f"{report.path}  sha256 {report.sha256}"))
    out.print(plain_line(f"report {report.report_id} of run {report.run_id}; pins custody-log head {report.log_head}"))
    out.print(head_line(case_id, report.logged_head))


@app.command("version")
def version() -> None:
    """Print the software version."""
    out.print(f"fs2f {__version__}")


def _version_option(given: bool) -> None:
    """`fs2f --version`, as `fs2f version`."""
    if given:
        version()
        raise typer.Exit()


@app.callback()
def _fs2f(_version: Annotated[bool, typer.Option("--version", callback=_version_option, is_eager=True,
                                                 help="Print the software version and exit.")] = False) -> None:
    """Forensic case analysis: evidence vault, chain of custody, diarization, voice-to-face estimates."""


MACHINE_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.ENAMETOOLONG, errno.EIO}
SQLITE_REFUSALS = {"SQLITE_READONLY", "SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_CANTOPEN", "SQLITE_IOERR", "SQLITE_FULL",
                   "SQLITE_PERM"}


def _refused_by_the_machine(error: Exception) -> str | None:
    """The one line for what the machine refused, not fs2f: a file system that will not write
    (permissions, read-only, full, a name too long, an I/O error) or a case-store database SQLite
    cannot write; None for anything else (a bug)."""
    from sqlalchemy.exc import OperationalError

    from forensic_s2f.store.db import DATABASE_NAME

    if isinstance(error, OSError) and error.errno in MACHINE_ERRNOS:
        return f"{error.filename or 'the file system'}: {error.strerror or error}"
    if isinstance(error, OperationalError) and getattr(error.orig, "sqlite_errorname", "") in SQLITE_REFUSALS:
        return f"the case store's database ({DATABASE_NAME}) refused the operation: {error.orig}"
    return None


def _stop(signal_number: int, _frame: Any) -> None:
    """Ctrl-C, SIGTERM or a closed terminal: raise Terminated, so that the command records what it
    was doing (a run as failed) and removes what it half wrote. A second stop signal ends the
    process at once, as SIGKILL would (every store write is one SQLite transaction). While stops
    are held (`errors.stops_held`: a store write), the signal waits for the end of the hold."""
    if command_ended():  # (a stop as the command gives back its handlers: its status stands)
        return
    for number in STOP_SIGNALS:
        if signal.getsignal(number) is _stop:
            signal.signal(number, _stop_now)
    if not hold_stop(signal_number):
        raise Terminated(signal.Signals(signal_number).name)


def _stop_now(signal_number: int, _frame: Any) -> None:
    os.write(2, f"error: stopped again ({signal.Signals(signal_number).name}): ended at once, as a kill would; "
                "a step it was recording stays listed as running (`fs2f audit verify` checks the store)\n".encode())
    os._exit(128 + signal_number)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning expected failures into one line on stderr."""
    forget_stops()
    previous = {number: signal.getsignal(number) for number in STOP_SIGNALS}
    for number, handler in previous.items():
        if handler is not signal.SIG_IGN:  # (a signal the caller ignores, as nohup does, stays ignored)
            signal.signal(number, _stop)
    unraisable = sys.unraisablehook
    sys.unraisablehook = lambda info: keep_lost_stop(info.exc_value) or unraisable(info)
    try:
        _run(argv)
    finally:
        mark_command_ended()
        sys.unraisablehook = unraisable
        if not any(signal.getsignal(number) is _stop_now for number in STOP_SIGNALS):
            for number, handler in previous.items():  # (after a stop the process is ending: a second
                signal.signal(number, handler)         # stop still ends it at once, with its line)


def _invoke(argv: list[str] | None) -> None:
    """Run the app; a usage error (an unknown option or command, a bad or missing value) is one
    line naming the command, like every other error (it was a boxed block of five)."""
    from typer._click import exceptions as click  # (typer 0.29 runs its own copy of click)

    try:
        code = app(args=argv, prog_name="fs2f", standalone_mode=False)
    except click.NoArgsIsHelpError:  # (the help is printed already)
        sys.exit(2)
    except click.UsageError as error:
        command = error.ctx.command_path if error.ctx is not None else _command_path(argv)
        raise UsageProblem(f"{command}: {error.format_message()} (`{command} --help` says what it takes)") from None
    except click.ClickException as error:
        raise Fs2fError(error.format_message()) from None
    except typer.Abort:  # (end of input at a prompt)
        sys.exit(1)
    if isinstance(code, int) and code:  # (`typer.Exit(code)`; help and version return 0)
        sys.exit(code)


def _command_path(argv: list[str] | None) -> str:
    """The command that `argv` names (`fs2f case add`), for a usage error click gives without one
    (an option missing its value)."""
    command, path = typer.main.get_command(app), ["fs2f"]
    for word in sys.argv[1:] if argv is None else argv:
        command = getattr(command, "commands", {}).get(word)
        if command is None:
            break
        path.append(word)
    return " ".join(path)


def _run(argv: list[str] | None) -> None:
    try:
        _run_and_report(argv)
    except Terminated as stop:  # (a stop while the outcome's line was printed: it ends as stopped)
        _exit_stopped(stop_received() or str(stop))


def _run_and_report(argv: list[str] | None) -> None:
    try:
        try:
            _invoke(argv)
        finally:
            close_stores()
            raise_lost_stop()  # (a stop lost on the way still ends the command as stopped)
    except Fs2fError as error:
        _print_error(f"error: {error}")
        sys.exit(error.exit_code)
    except Terminated as stop:  # (named by the signal received: a library may rewrite the message, as reportlab does)
        _exit_stopped(stop_received() or str(stop))
    except Exception as error:
        if os.environ.get("FS2F_DEBUG"):
            raise
        if (stop := stop_received()) is not None:  # (an error the stop caused: see `stop_received`)
            _exit_stopped(stop)
        refusal = _refused_by_the_machine(error)
        if refusal is not None:
            _print_error(f"error: {refusal}")
            sys.exit(2)
        _print_error(f"internal error: {type(error).__name__}: {error} (set FS2F_DEBUG=1 for a traceback)")
        sys.exit(3)


def _print_error(line: str) -> None:
    """The command's one error line on stderr, followed by what it recorded as failed as the
    error ended it (`errors.note_failed`), as in "; run 3 of case C1 was recorded as failed"."""
    failed = recorded_as_failed()
    err.print(plain_line(f"{line}; {failed}" if failed is not None else line))


def _exit_stopped(signal_name: str) -> None:
    """The stop's line and exit status (128 + the signal's number); the line says what the command
    had recorded in full when the stop came (`errors.note_recorded`), or what it recorded as
    failed (`errors.note_failed`)."""
    recorded = recorded_before_stop()
    after = f" after {recorded}" if recorded is not None else ""
    _print_error(f"error: {'interrupted' if signal_name == 'SIGINT' else 'terminated'} ({signal_name}){after}")
    sys.exit(128 + signal.Signals[signal_name].value)


if __name__ == "__main__":
    main()
