"""`fs2f case report`: build a case's report, write it to a new file, record it in the store.

The PDF becomes a vault artifact of a 'report' activity (parameters: the run, the report id,
the caveat templates' and validation file's SHA-256, the custody-log head it pins) and a
'report' custody event names the file written. The activity is not part of the run, so a
report never changes what a later report of the same run says.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from forensic_s2f.config import require_outside_store
from forensic_s2f.errors import StoreError, note_failed, note_recorded, require_text_name, stops_held
from forensic_s2f.output_files import partial_path, place, remove_partial, remove_stale_partials
from forensic_s2f.provenance import software_versions
from forensic_s2f.report.build import BuiltReport, build_report
from forensic_s2f.report.caveats import CAVEATS_DIR, load_caveats
from forensic_s2f.report.data import gather_report_data
from forensic_s2f.report.layout import LAYOUT_VERSION
from forensic_s2f.report.validation import load_validation_figures
from forensic_s2f.store.case_store import CaseStore
from forensic_s2f.store.custody import utc_now


@dataclass(frozen=True)
class PublishedReport:
    path: Path
    report_id: str
    sha256: str
    run_id: int
    artifact_id: int
    log_head: str  # the head the report pins (before its own events)
    logged_head: str  # the head once the report is logged (its `report` event)


def default_report_path(case_id: str, run_id: int) -> Path:
    """`./<case>-report-run<run>.pdf` in the current folder."""
    return Path.cwd() / f"{case_id}-report-run{run_id}.pdf"


def publish_report(store: CaseStore, case_id: str, examiner: str, output: Path | None = None,
                   run_id: int | None = None, validation_path: Path | None = None,
                   caveats_dir: Path = CAVEATS_DIR) -> PublishedReport:
    """Write the report of `run_id` (default: the latest completed run) to `output`, never overwriting."""
    data = gather_report_data(store, case_id, run_id)
    path = Path(output) if output is not None else default_report_path(case_id, data.run.id)
    require_text_name(path)
    require_outside_store(path, store.layout.root)
    if os.path.lexists(path):  # (a link too, even one that leads nowhere)
        raise StoreError(f"{path}: already exists; choose another --output")
    if path.parent.exists() and not path.parent.is_dir():
        raise StoreError(f"{path.parent}: is not a folder")
    caveats = load_caveats(caveats_dir)
    validation = load_validation_figures(validation_path)
    written_utc = utc_now()
    built = build_report(data, caveats, validation, examiner, written_utc)
    partial = partial_path(path)  # (a kill leaves this, never a report-like file)
    artifact_id = None
    try:  # the report appears under its name only once it is whole and recorded
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            remove_stale_partials(path)
            handle = open(partial, "xb")
        except OSError as error:
            raise StoreError(f"{error.filename or path}: cannot be written ({error.strerror or error})") from None
        with handle:
            handle.write(built.pdf)
            handle.flush()
            os.fsync(handle.fileno())
        if os.path.lexists(path):
            raise StoreError(f"{path}: already exists; choose another --output")
        with stops_held():  # (a stop waits until the report is recorded whole and in place)
            artifact_id = _record(store, case_id, examiner, built, data.run.id, data.log_head, caveats, validation,
                                  written_utc)
            logged = store.record_event(case_id, examiner, "report", "artifact", str(artifact_id), built.sha256,
                                        details={"report_id": built.report_id, "run_id": data.run.id,
                                                 "path": str(path.resolve())})
            _place(partial, path, artifact_id)
            note_recorded(f"report {built.report_id} was written to {path} and recorded in case {case_id}")
    finally:
        remove_partial(partial)
    return PublishedReport(path=path, report_id=built.report_id, sha256=built.sha256, run_id=data.run.id,
                           artifact_id=artifact_id, log_head=data.log_head, logged_head=logged.entry_hash)


def _place(partial: Path, path: Path, artifact_id: int) -> None:
    """Give the written report its name without replacing a file that took the name meanwhile."""
    try:
        place(partial, path)
    except FileExistsError:
        raise StoreError(f"{path}: appeared while the report was written; the report is recorded as artifact "
                         f"{artifact_id} in the store (`fs2f audit log` names it)") from None


def _record(store: CaseStore, case_id: str, examiner: str, built: BuiltReport, run_id: int, log_head: str,
            caveats, validation, written_utc: str) -> int:
    """The report's activity, with the PDF as its artifact; returns the artifact's id."""
    parameters = {
        "run_id": run_id, "report_id": built.report_id, "content_sha256": built.content_sha256,
        "written_utc": written_utc,  # (the report's 'Date written': before this activity, which records the PDF)
        "layout_version": LAYOUT_VERSION, "custody_log_head": log_head,
        "caveat_templates": [{"name": t.name, "version": t.version, "sha256": t.sha256} for t in caveats],
        "validation_sha256": validation.sha256 if validation else None,
    }
    activity = store.start_activity(case_id, "report", examiner, parameters, software_versions(),
                                    inputs=[{"run_id": run_id}, {"custody_log_head": log_head}])
    try:
        rows = store.finish_activity(activity.id, examiner, outputs=[{"report_id": built.report_id}], artifacts=[
            ("report", f"{case_id}-{built.report_id}.pdf", built.pdf, "application/pdf")])
    except BaseException as error:  # (the disk filled, a stop while another process held the store):
        _record_failed_step(store, case_id, examiner, activity.id, error)  # the step is not left running
        raise
    return rows[0].id


def _record_failed_step(store: CaseStore, case_id: str, examiner: str, activity_id: int, error: BaseException) -> None:
    """Record the report's step as failed by `error`. Where the store refuses that record too,
    the command still ends with `error`, and its line says the step stays begun and not ended
    (it named only the second refusal)."""
    try:
        store.finish_activity(activity_id, examiner, outputs=[{"error": f"{type(error).__name__}: {error}"}],
                              status="failed")
    except Exception as refusal:
        note_failed(f"the report's step (activity {activity_id}) could not be recorded as failed in case {case_id} "
                    f"({refusal}); `fs2f audit log {case_id}` shows it begun and not ended")
        return
    note_failed(f"the report's step (activity {activity_id}) was recorded as failed in case {case_id}")
