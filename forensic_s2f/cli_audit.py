"""`fs2f audit ...`: the auditor's side — verify a case's custody chain, rows and vault; print its log."""

from __future__ import annotations

import csv
import getpass
import io
import json
import os
import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer

from forensic_s2f.cli_terminal import (ExaminerOption, JsonOption, ReadOnlyOption, err, head_line, open_for_reading,
                                       out, plain_line, print_json, text_table)
from forensic_s2f.config import examiner_name
from forensic_s2f.errors import StoreError, note_recorded, stops_held

audit_app = typer.Typer(no_args_is_help=True, help="The auditor's side: verify the store, read the custody log.")


def _auditor(given: str | None) -> str:
    """Who verifies: the option, $FS2F_EXAMINER, else the operating-system user (recorded as
    `os-user:<name>`); a name given that cannot be recorded is refused, never replaced."""
    if not (given or os.environ.get("FS2F_EXAMINER") or "").strip():
        return f"os-user:{getpass.getuser()}"
    return examiner_name(given)


@audit_app.command("verify")
def audit_verify(
    case_id: Annotated[str | None, typer.Argument(help="Case to verify.")] = None,
    all_cases: Annotated[bool, typer.Option("--all", help="Verify every case in the store.")] = False,
    expect_head: Annotated[list[str] | None, typer.Option(
        "--expect-head", help="A head hash an earlier verification, report or export showed (at least its first 32 "
                              "hex digits; repeatable): fail unless the chain still holds that event. A log rolled "
                              "back, or rebuilt, to before it chains correctly otherwise.")] = None,
    examiner: ExaminerOption = None,
    as_json: JsonOption = False,
    read_only: ReadOnlyOption = False,
) -> None:
    """Recompute the custody chain, check every row against the events that logged it and re-hash every vault file;
    exit 1 on any finding. The verification is logged, unless the store is read-only."""
    if bool(case_id) == all_cases:
        raise StoreError("name one CASE_ID or pass --all")
    if expect_head and all_cases:
        raise StoreError("--expect-head names a head of one case: give CASE_ID, not --all")
    store = open_for_reading(read_only)
    case_ids = store.all_case_ids() if all_cases else [case_id]
    auditor = _auditor(examiner)
    report, failures = [], {}
    for cid in case_ids:
        entry, failures[cid] = _verify_case(store, cid, auditor, expect_head or (), all_cases)
        report.append(entry)
    for cid in store.caseless_ids() if all_cases else []:
        entry, failures[cid] = _failed_case(cid, "rows name this case, but its case row is missing (deleted, or the "
                                                 "rows were planted)")
        report.append(entry)
    if as_json:
        print_json(report)
    else:
        for entry in report:
            if entry["ok"]:
                out.print(plain_line(f"{entry['case_id']}: OK — {entry['events_checked']} custody events chain correctly, "
                                     f"every vault file matches; head {entry['verified_head']}"))
            for line in failures[entry["case_id"]]:
                out.print(plain_line(line))
            if entry["log_head_after"] is not None:
                out.print(head_line(entry["case_id"], entry["log_head_after"]))
    if store.read_only:
        err.print(plain_line(f"note: {store.layout.root} was read without writing: this verification is not logged"))
    for path in store.unreferenced_vault_objects() if all_cases else []:  # (on stderr: --json output keeps its shape)
        err.print(plain_line(f"note: {path}: a vault file no case records (left by an interrupted command, or "
                             "by records taken out of the database, as when an older copy of it is put back: "
                             "`--expect-head` tells)"))
    if not all(entry["ok"] for entry in report):
        raise typer.Exit(1)


def _verify_case(store, case_id: str, auditor: str, expect_head: Sequence[str],
                 going_on: bool) -> tuple[dict[str, Any], list[str]]:
    """One case's entry of `audit verify` and its FAIL lines; the verification is logged unless
    the store is read-only. `going_on` (--all): a case whose rows cannot even be read is a failed
    entry, not the end of the command."""
    from sqlalchemy.exc import DatabaseError

    try:
        checked = store.verify(case_id, expect_head)
    except (StoreError, TypeError, ValueError, DatabaseError) as error:  # (rows altered beyond reading)
        if isinstance(error, StoreError) and not going_on:
            raise
        problem = str(error) if isinstance(error, StoreError) else \
            f"cannot be checked ({type(error).__name__}: {error}): the database was altered"
        return _failed_case(case_id, problem)
    findings = checked.findings
    for note in checked.clock_notes:  # (on stderr: clocks are set back, so not a failure, but an auditor should know)
        err.print(plain_line(f"note: {note}"))
    event = None
    if not store.read_only:
        with stops_held():  # (a stop as the verification is logged ends the command saying so)
            event = store.record_event(
                case_id, auditor, "verify", "case", case_id,
                details={"findings": len(findings), "verified_head": checked.head_hash,
                         "events_checked": checked.events_checked, "evidence": checked.evidence_count,
                         "artifacts": checked.artifact_count, "problems": [f.line() for f in findings[:50]]},
            )
            note_recorded(f"the verification of case {case_id} was logged as event {event.seq} "
                          f"({len(findings)} findings; `fs2f audit log {case_id}` shows it)")
    return ({"case_id": case_id, "ok": not findings, "verified_head": checked.head_hash,
             "events_checked": checked.events_checked, "verification_event_seq": event.seq if event is not None else None,
             "log_head_after": event.entry_hash if event is not None else None,
             "findings": [f.__dict__ for f in findings]}, ["FAIL " + finding.line() for finding in findings])


def _failed_case(case_id: str, problem: str) -> tuple[dict[str, Any], list[str]]:
    return ({"case_id": case_id, "ok": False, "verified_head": None, "events_checked": 0,
             "verification_event_seq": None, "log_head_after": None,
             "findings": [{"case_id": case_id, "object": "case", "problem": problem, "expected": "", "found": ""}]},
            [f"FAIL {case_id}: {problem}"])


LOG_COLUMNS = ["seq", "ts_utc", "examiner", "action", "object_kind", "object_id", "object_sha256",
               "details", "prev_hash", "entry_hash"]


@audit_app.command("log")
def audit_log(
    case_id: str,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
    as_json: JsonOption = False,
    read_only: ReadOnlyOption = False,
) -> None:
    """Print a case's custody log."""
    if as_json and fmt not in ("table", "json"):
        raise StoreError(f"--json and --format {fmt} ask for two formats: give one")
    fmt = "json" if as_json else fmt
    if fmt not in ("table", "csv", "json"):
        raise StoreError(f"unknown format {fmt!r}: use table, csv or json")
    events = open_for_reading(read_only).custody_log(case_id)
    records = [
        {"seq": e.seq, "ts_utc": e.ts_utc, "examiner": e.examiner, "action": e.action,
         "object_kind": e.object_kind, "object_id": e.object_id, "object_sha256": e.object_sha256,
         "details": _logged_details(e.details_json), "prev_hash": e.prev_hash, "entry_hash": e.entry_hash}
        for e in events
    ]
    if fmt == "json":
        print_json(records)
    elif fmt == "csv":
        from forensic_s2f.exports import spreadsheet_safe

        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=LOG_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for record in records:  # (text cells guarded as the CSV exports guard them: see exports.spreadsheet_safe)
            row = {**record, "details": json.dumps(record["details"], sort_keys=True, ensure_ascii=False)}
            writer.writerow({key: spreadsheet_safe(value) for key, value in row.items()})
        sys.stdout.write(buffer.getvalue())
    else:
        out.print(text_table(
            f"custody log of {case_id}", ["seq", "time (UTC)", "examiner", "action", "object", "sha256", "entry hash"],
            [[r["seq"], r["ts_utc"][:19], r["examiner"], r["action"], f"{r['object_kind']} {r['object_id']}",
              r["object_sha256"][:12], r["entry_hash"][:12]] for r in records],
        ))
        if records:  # (the table shortens hashes; --expect-head takes 32 hex digits or more)
            out.print(plain_line(f"head (seq {records[-1]['seq']}): {records[-1]['entry_hash']}; every hash in full: "
                                 "--json or --format csv"))


def _logged_details(text: str) -> Any:
    """An event's details; text that does not parse (only a changed row holds such; `audit verify`
    names it) is shown as it is stored."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return {"unparseable details_json": text}
