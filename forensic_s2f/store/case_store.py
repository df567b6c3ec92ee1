"""The case store's operations: open a case, ingest evidence, record activities and
artifacts, read the custody log and verify everything against the vault.

Every write is one database transaction together with its custody events; vault
objects a failed transaction created are removed again, so a failure leaves the store
as it was.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from forensic_s2f.audio.decode import AudioInfo
from forensic_s2f.errors import StoreError, stop_received
from forensic_s2f.store import custody, integrity
from forensic_s2f.store.custody import Finding, canonical_json, utc_now
from forensic_s2f.store.db import (StoreLayout, integrity_problems, open_engine, open_read_only_engine, read_schema,
                                  read_snapshot, schema_objects, session, shared_lock, store_lock)
from forensic_s2f.store.ids import validate_case_id
from forensic_s2f.store.models import (Activity, AnalysisRun, Artifact, Case, CustodyEvent, Evidence, RunEvidence, Segment,
                                      Speaker)
from forensic_s2f.store.runs import RunRecords, stored_results
from forensic_s2f.store.vault import FileState, StoredObject, Vault, copy_hashing, sha256_file


@dataclass(frozen=True)
class IncomingFile:
    """A file already probed as whole audio, waiting to be ingested; `checked` is its state
    before it was probed (a file that changes before its copy is in the vault is refused)."""

    path: Path
    info: AudioInfo
    checked: FileState


@dataclass
class IngestResult:
    case_created: bool
    added: list[Evidence] = field(default_factory=list)
    duplicates: list[tuple[Path, Evidence]] = field(default_factory=list)


@dataclass(frozen=True)
class Verification:
    """What `verify` found, and the chain it checked: its head hash and number of events."""

    findings: list[Finding]
    head_hash: str
    events_checked: int
    evidence_count: int
    artifact_count: int
    clock_notes: list[str] = field(default_factory=list)  # events timed before the one they follow (see integrity)


@dataclass(frozen=True)
class CaseSummary:
    case: Case
    evidence_count: int
    event_count: int
    head_hash: str


class CaseStore(RunRecords):
    """One store folder: its database, vault and lock."""

    def __init__(self, root: Path, create: bool = False, read_only: bool = False) -> None:
        """`read_only`: read without writing anything (no lock, no journal, no migration), as an
        auditor reads a write-protected copy; every write is then a StoreError."""
        self.layout = StoreLayout(Path(root))
        self.read_only = read_only
        self._reading = ExitStack()
        if read_only:  # (held until close: writers wait, so what is read stays one state of the store)
            self._reading.enter_context(shared_lock(self.layout))
        try:
            self.engine = open_read_only_engine(self.layout) if read_only else open_engine(self.layout, create=create)
        except BaseException:
            self._reading.close()
            raise
        self.vault = Vault(self.layout.vault)
        self._snapshot: Session | None = None

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Every read of the database inside sees one state of it (`db.read_snapshot`): a report
        is made of the very rows its verification checked, whatever is written meanwhile."""
        if self._snapshot is not None:
            yield
            return
        with read_snapshot(self.engine) as db:
            self._snapshot = db
            try:
                yield
            finally:
                self._snapshot = None

    @contextmanager
    def _read(self) -> Iterator[Session]:
        """A session to read in: the snapshot's inside `snapshot()`, else one transaction of its own."""
        if self._snapshot is not None:
            yield self._snapshot
            return
        with session(self.engine) as db, db.begin():
            yield db

    @contextmanager
    def scratch_folder(self) -> Iterator[Path]:
        """A private folder inside the store for one analysis's working files, removed when
        the analysis ends. Folders left by analyses that were killed (their process is gone)
        are removed first, so decoded evidence audio does not linger anywhere."""
        root = self.layout.scratch
        root.mkdir(mode=0o700, exist_ok=True)
        for folder in root.glob("analyze-*-*"):
            if not _process_alive(folder.name.split("-")[1]):
                shutil.rmtree(folder, ignore_errors=True)
        with tempfile.TemporaryDirectory(prefix=f"analyze-{os.getpid()}-", dir=root) as folder:
            yield Path(folder)

    def free_bytes(self) -> int:
        """Free space on the disk that holds the store (its vault and scratch folder), bytes."""
        return shutil.disk_usage(self.layout.root).free

    def close(self) -> None:
        """Close the database: the last connection folds the write-ahead log into fs2f.db, which
        happens under the store lock, so that a reader never sees fs2f.db half rewritten. A
        stopped command does not wait for another's lock: it closes at once (another process then
        holds the store, so no reader is reading it)."""
        if self.read_only or stop_received() is not None:
            self.engine.dispose()
        else:
            with store_lock(self.layout):
                self.engine.dispose()
        self._reading.close()

    @contextmanager
    def _write(self) -> Iterator[tuple[Session, list[StoredObject]]]:
        """A locked write: one transaction; vault objects it created are removed on failure."""
        if self.read_only:
            raise StoreError(f"{self.layout.root}: opened read-only; nothing can be recorded")
        created: list[StoredObject] = []
        with store_lock(self.layout), session(self.engine) as db:
            self.vault.clear_staging()
            try:
                with db.begin():
                    yield db, created
            except BaseException:
                for stored in created:
                    self.vault.remove_new(stored)
                raise

    # -- cases and evidence -------------------------------------------------------------

    def get_case(self, db: Session, case_id: str) -> Case:
        case = db.get(Case, validate_case_id(case_id))
        if case is None:
            raise StoreError(f"no case {case_id!r} in {self.layout.root}")
        return case

    def ingest(
        self,
        case_id: str,
        files: Sequence[IncomingFile],
        examiner: str,
        source: str = "",
        note: str = "",
        title: str = "",
    ) -> IngestResult:
        """Copy the files into the vault and record them as evidence of the case (made on first use)."""
        validate_case_id(case_id)
        with self._write() as (db, created):
            case = db.get(Case, case_id)
            result = IngestResult(case_created=case is None)
            if case is not None and title and title != case.title:
                raise StoreError(f"case {case_id!r} exists with title {case.title!r}: a title is set when the case "
                                 "opens and never changes; leave out --title")
            if case is None:
                case = Case(id=case_id, title=title, created_utc=utc_now(), created_by=examiner)
                db.add(case)
                db.flush()
                custody.append(db, case_id, examiner, "case-open", "case", case_id,
                               details={"title": title, "created_utc": case.created_utc})
            for incoming in files:
                stored = self.vault.put_file(incoming.path, incoming.checked)
                if stored.created:
                    created.append(stored)
                existing = db.scalars(
                    select(Evidence).where(Evidence.case_id == case_id, Evidence.sha256 == stored.sha256)
                ).first()
                if existing is not None:  # (received again: logged, not stored twice)
                    result.duplicates.append((incoming.path, existing))
                    custody.append(db, case_id, examiner, "intake-repeat", "evidence", str(existing.id), stored.sha256,
                                   details={"original_filename": incoming.path.name, **_paths(incoming.path),
                                            "source": source, "note": note, "host": socket.gethostname()})
                    continue
                result.added.append(self._record_evidence(db, case_id, incoming, stored, examiner, source, note))
        return result

    def _record_evidence(
        self, db: Session, case_id: str, incoming: IncomingFile, stored: StoredObject,
        examiner: str, source: str, note: str,
    ) -> Evidence:
        info = incoming.info
        evidence = Evidence(
            case_id=case_id,
            sha256=stored.sha256,
            size_bytes=stored.size_bytes,
            original_filename=incoming.path.name,
            original_path=_paths(incoming.path)["original_path"],
            media_type=info.media_type,
            codec=info.codec,
            sample_rate_hz=info.sample_rate,
            channels=info.channels,
            duration_seconds=round(info.duration_seconds, 6),
            source=source,
            note=note,
            examiner=examiner,
            ingested_utc=utc_now(),
        )
        db.add(evidence)
        db.flush()
        custody.append(
            db, case_id, examiner, "intake", "evidence", str(evidence.id), stored.sha256,
            details={
                "original_filename": evidence.original_filename,
                **_paths(incoming.path),
                "size_bytes": evidence.size_bytes,
                "media_type": evidence.media_type,
                "codec": evidence.codec,
                "sample_rate_hz": evidence.sample_rate_hz,
                "channels": evidence.channels,
                "duration_seconds": evidence.duration_seconds,
                "source": source,
                "note": note,
                "ingested_utc": evidence.ingested_utc,
                "host": socket.gethostname(),
            },
        )
        return evidence

    def list_cases(self) -> list[CaseSummary]:
        with self._read() as db:
            return [self._summary(db, case) for case in db.scalars(select(Case).order_by(Case.id))]

    def _summary(self, db: Session, case: Case) -> CaseSummary:
        evidence_count = db.scalar(select(func.count()).select_from(Evidence).where(Evidence.case_id == case.id))
        event_count = db.scalar(select(func.count()).select_from(CustodyEvent).where(CustodyEvent.case_id == case.id))
        last = custody.head(db, case.id)
        return CaseSummary(case, evidence_count or 0, event_count or 0, last.entry_hash if last else custody.GENESIS_HASH)

    def case_summary(self, case_id: str) -> CaseSummary:
        with self._read() as db:
            return self._summary(db, self.get_case(db, case_id))

    def evidence(self, case_id: str) -> list[Evidence]:
        with self._read() as db:
            self.get_case(db, case_id)
            return list(db.scalars(select(Evidence).where(Evidence.case_id == case_id).order_by(Evidence.id)))

    def evidence_path(self, evidence: Evidence) -> Path:
        """The read-only vault copy of an evidential recording."""
        return self.vault.path_of(evidence.sha256)

    # -- provenance ---------------------------------------------------------------------

    def start_activity(
        self, case_id: str, kind: str, examiner: str, parameters: dict[str, Any],
        software: dict[str, str], inputs: list[dict[str, Any]], model_name: str = "",
        model_sha256: str = "", run_id: int | None = None,
    ) -> Activity:
        """Record that a processing step began (status 'running') with a custody event."""
        with self._write() as (db, _):
            self.get_case(db, case_id)
            activity = Activity(
                case_id=case_id, run_id=run_id, kind=kind, status="running",
                parameters_json=canonical_json(parameters), software_json=canonical_json(software),
                model_name=model_name, model_sha256=model_sha256, inputs_json=canonical_json(inputs),
                outputs_json="[]", started_utc=utc_now(), ended_utc=None, examiner=examiner,
                host=socket.gethostname(),
            )
            db.add(activity)
            db.flush()
            custody.append(
                db, case_id, examiner, "activity-start", "activity", str(activity.id),
                details={"kind": kind, "run_id": run_id, "parameters": parameters, "inputs": inputs,
                         "software": software, "model_name": model_name, "model_sha256": model_sha256,
                         "host": activity.host, "started_utc": activity.started_utc},
            )
            return activity

    def finish_activity(
        self, activity_id: int, examiner: str, outputs: list[dict[str, Any]],
        artifacts: Sequence[tuple[str, str, bytes | Path, str]] = (), status: str = "completed",
    ) -> list[Artifact]:
        """Store the step's artifacts (kind, label, bytes or a file, media type) and close it, atomically."""
        with self._write() as (db, created):
            activity = db.get(Activity, activity_id)
            if activity is None:
                raise StoreError(f"no activity {activity_id}")
            rows = []
            for kind, label, data, media_type in artifacts:
                stored = self.vault.put_file(data) if isinstance(data, Path) else self.vault.put_bytes(data)
                if stored.created:
                    created.append(stored)
                artifact = Artifact(
                    case_id=activity.case_id, activity_id=activity.id, kind=kind, label=label,
                    sha256=stored.sha256, size_bytes=stored.size_bytes, media_type=media_type,
                    created_utc=utc_now(),
                )
                db.add(artifact)
                db.flush()
                custody.append(
                    db, activity.case_id, examiner, "artifact", "artifact", str(artifact.id), stored.sha256,
                    details={"kind": kind, "label": label, "activity_id": activity.id, "size_bytes": stored.size_bytes,
                             "media_type": media_type, "created_utc": artifact.created_utc},
                )
                rows.append(artifact)
            all_outputs = outputs + [{"artifact_id": a.id, "kind": a.kind, "sha256": a.sha256} for a in rows]
            activity.outputs_json = canonical_json(all_outputs)
            activity.status = status
            activity.ended_utc = utc_now()
            custody.append(
                db, activity.case_id, examiner, "activity-end", "activity", str(activity.id),
                details={"kind": activity.kind, "status": status, "outputs": all_outputs,
                         "ended_utc": activity.ended_utc},
            )
            return rows

    def activities(self, case_id: str, run_id: int | None = None) -> list[Activity]:
        with self._read() as db:
            query = select(Activity).where(Activity.case_id == case_id)
            if run_id is not None:
                query = query.where(Activity.run_id == run_id)
            return list(db.scalars(query.order_by(Activity.id)))

    def artifacts(self, case_id: str) -> list[Artifact]:
        with self._read() as db:
            return list(db.scalars(select(Artifact).where(Artifact.case_id == case_id).order_by(Artifact.id)))

    def artifact_bytes(self, artifact: Artifact) -> bytes:
        return self.artifact_path(artifact).read_bytes()

    def artifact_path(self, artifact: Artifact) -> Path:
        """The read-only vault file holding an artifact's bytes (re-hash it before trusting it)."""
        return self.vault.path_of(artifact.sha256)

    # -- audit ----------------------------------------------------------------------------

    def record_event(
        self, case_id: str, examiner: str, action: str, object_kind: str, object_id: str,
        object_sha256: str = "", details: dict[str, Any] | None = None,
    ) -> CustodyEvent:
        """Append one custody event (an export, a report, a verification)."""
        with self._write() as (db, _):
            self.get_case(db, case_id)
            return custody.append(db, case_id, examiner, action, object_kind, object_id, object_sha256, details)

    def custody_log(self, case_id: str) -> list[CustodyEvent]:
        with self._read() as db:
            self.get_case(db, case_id)
            return list(db.scalars(select(CustodyEvent).where(CustodyEvent.case_id == case_id).order_by(CustodyEvent.id)))

    def verify(self, case_id: str, expected_heads: Sequence[str] = (), rehash: bool = True) -> Verification:
        """Recompute the case's chain, check every row of the case against the events that
        logged it (`store/integrity.py`) and re-hash every vault object it references; all read
        in one transaction, so the head reported is the head checked. `expected_heads`: entry
        hashes (or their first 32+ hex digits) once seen as the head, which the chain must still
        hold: a chain rolled back to before one of them is otherwise consistent. `rehash` False:
        vault files are checked for presence and size only (`case show`: seconds, not the
        minutes that re-reading hours of audio takes)."""
        with self._read() as db:
            case = self.get_case(db, case_id)
            events = list(db.scalars(select(CustodyEvent).where(CustodyEvent.case_id == case_id).order_by(CustodyEvent.id)))
            evidence = list(db.scalars(select(Evidence).where(Evidence.case_id == case_id).order_by(Evidence.id)))
            artifacts = list(db.scalars(select(Artifact).where(Artifact.case_id == case_id).order_by(Artifact.id)))
            activities = list(db.scalars(select(Activity).where(Activity.case_id == case_id).order_by(Activity.id)))
            runs = list(db.scalars(select(AnalysisRun).where(AnalysisRun.case_id == case_id).order_by(AnalysisRun.id)))
            run_ids, evidence_ids = [run.id for run in runs], [row.id for row in evidence]
            results, orphans, counts = stored_results(db, run_ids)
            json_rows = [*activities, *runs, *(row for model in (RunEvidence, Speaker)
                                               for row in db.scalars(select(model).where(model.run_id.in_(run_ids))))]
            strays = [row for model in (RunEvidence, Speaker, Segment) for row in db.scalars(
                select(model).where(model.evidence_id.in_(evidence_ids), model.run_id.not_in(run_ids)).order_by(model.id))]
            schema, problems = read_schema(db), integrity_problems(db)
        index = integrity.Events(events)
        findings = custody.verify_chain(events, case_id) + integrity.check_case(case, events, index)
        for row in evidence:
            findings += integrity.check_evidence(row, index) + self._vault_findings(
                case_id, f"evidence {row.id} ({row.original_filename})", row, rehash)
        for row in artifacts:
            findings += integrity.check_artifact(row, index) + self._vault_findings(
                case_id, f"artifact {row.id} ({row.label})", row, rehash)
        for row in activities:
            findings += integrity.check_activity(row, index)
        for row in runs:
            findings += integrity.check_run(row, index)
        findings += integrity.check_results(case_id, results, orphans, events, counts)
        findings += integrity.check_stray_findings(case_id, strays) + integrity.check_json_columns(case_id, json_rows)
        for event in index.unused(("intake", "artifact", "activity-start", "activity-end", "analysis-start", "analysis-end")):
            findings.append(Finding(case_id, f"{event.object_kind} {event.object_id}",
                                    f"logged at seq {event.seq} ({event.action}) but its row is missing",
                                    event.object_sha256 or "a row", "no row"))
        findings += integrity.check_schema(case_id, schema, schema_objects(), problems)
        findings += integrity.check_expected_heads(case_id, events, expected_heads)
        return Verification(findings, events[-1].entry_hash if events else custody.GENESIS_HASH, len(events),
                            len(evidence), len(artifacts), integrity.clock_steps_back(case_id, events))

    def require_verified(self, case_id: str) -> None:
        """A StoreError naming the first finding, unless the case passes verification: what a
        report or an export holds must be rows that verify (a forged row, or an index forged to
        answer queries with other rows, is refused before anything is read off it)."""
        findings = self.verify(case_id).findings
        if findings:
            raise StoreError(f"{failure_summary(case_id, findings)}; run `fs2f audit verify {case_id}`")

    def _vault_findings(self, case_id: str, name: str, row: Evidence | Artifact, rehash: bool = True) -> list[Finding]:
        """What is wrong with the row's vault file: missing, other bytes (`rehash`) or another size."""
        try:
            path = self.vault.path_of(row.sha256)
        except StoreError as error:
            return [Finding(case_id, name, "recorded SHA-256 is not a digest", "64 hex digits", str(error))]
        folders = [self.vault.root / folder for folder in reversed(path.relative_to(self.vault.root).parents)]
        for part in (*folders, path):  # (vault, vault/sha256, vault/sha256/<2 hex>, the file)
            if part.is_symlink():  # (the bytes read would live, and could change, outside the vault)
                problem = "vault file is a link, not the stored file" if part == path else \
                    "a folder of the vault file's path is a link to another folder"
                return [Finding(case_id, name, problem, str(part), os.readlink(part))]
        if not path.is_file():
            return [Finding(case_id, name, "vault file missing", str(path), "nothing")]
        findings = []
        if rehash and (actual := sha256_file(path)) != row.sha256:
            findings.append(Finding(case_id, name, "vault file's SHA-256 does not match", row.sha256, actual))
        size = path.stat().st_size
        if size != row.size_bytes:
            findings.append(Finding(case_id, name, "vault file's size does not match", str(row.size_bytes), str(size)))
        return findings

    def check_vault_copies(self, evidence: list[Evidence]) -> None:
        """Re-hash the vault copy of each evidential recording before anything reads it; a copy
        that is missing or no longer has the bytes recorded at intake is a StoreError naming it,
        so no analysis is ever recorded against bytes other than the ones its SHA-256 states."""
        for item in evidence:
            findings = self._vault_findings(item.case_id, f"evidence {item.id} ({item.original_filename})", item)
            if findings:
                raise StoreError(f"{findings[0].line()}: not analysed; `fs2f audit verify {item.case_id}` "
                                 "checks the whole case")

    def private_copy(self, evidence: Evidence, folder: Path) -> Path:
        """A copy of the evidence's vault file in `folder` (an analysis's private scratch folder),
        hashed as it is written: a copy whose bytes are not those recorded at intake is a
        StoreError naming the evidence, so what an analysis decodes is exactly what its SHA-256
        states, even where the vault file was swapped after the run's first check (a long run
        reaches its last file minutes later)."""
        target = folder / f"evidence-{evidence.id}"
        try:
            with open(target, "xb") as out:
                digest, _ = copy_hashing(self.evidence_path(evidence), out)
        except OSError as error:
            raise StoreError(f"evidence {evidence.id} ({evidence.original_filename}): its vault copy cannot be read "
                             f"({error.strerror or error}); not analysed") from None
        if digest != evidence.sha256:
            raise StoreError(f"evidence {evidence.id} ({evidence.original_filename}): its vault copy no longer holds "
                             f"the bytes recorded at intake (SHA-256 {digest}, recorded {evidence.sha256}); not "
                             f"analysed; `fs2f audit verify {evidence.case_id}` checks the whole case")
        return target

    def unreferenced_vault_objects(self) -> list[Path]:
        """Vault objects no evidence or artifact row of any case names: what a command killed
        between storing a file and recording it left behind. Not evidence of any case."""
        with nullcontext() if self.read_only else store_lock(self.layout), session(self.engine) as db:
            # (no write half done while listing: a read-only store has no writers)
            named = set(db.scalars(select(Evidence.sha256))) | set(db.scalars(select(Artifact.sha256)))
            return sorted(self.vault.path_of(sha) for sha in self.vault.object_names() - named)

    def all_case_ids(self) -> list[str]:
        with self._read() as db:
            return list(db.scalars(select(Case.id).order_by(Case.id)))

    def caseless_ids(self) -> list[str]:
        """Case ids that rows (custody events, evidence, artifacts, activities, runs) name but no
        case row holds: a case row deleted, or rows planted."""
        with self._read() as db:
            named: set = set()
            for model in (CustodyEvent, Evidence, Artifact, Activity, AnalysisRun):
                named |= set(db.scalars(select(model.case_id).distinct()))
            return sorted((str(name) for name in named - set(db.scalars(select(Case.id)))), key=str)


def _process_alive(pid_text: str) -> bool:
    """Whether a process with this id runs on this machine (unparsable ids count as alive)."""
    if not pid_text.isdigit():
        return True
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def resolved_paths(events: list[CustodyEvent]) -> dict[int, str]:
    """Evidence id → the file intake read, where links or `..` on the path given led elsewhere
    (the `intake` event's `resolved_path`; evidence taken in before it was logged has none), from
    a case's custody events."""
    return {int(event.object_id): str(details["resolved_path"]) for event in events
            if event.action == "intake" and event.object_id.isdigit()
            and "resolved_path" in (details := integrity.details_of(event))}


def repeat_receipts(events: list[CustodyEvent]) -> dict[int, list[dict[str, Any]]]:
    """Evidence id → each later receipt of the same bytes (`intake-repeat` events of a case's
    custody log): the name, paths, source and note it came with, who received it and when (UTC)."""
    receipts: dict[int, list[dict[str, Any]]] = {}
    for event in events:
        if event.action == "intake-repeat" and event.object_id.isdigit():
            details = integrity.details_of(event)
            receipts.setdefault(int(event.object_id), []).append({
                **{key: details.get(key, "") for key in ("original_filename", "original_path", "source", "note")},
                **({"resolved_path": details["resolved_path"]} if "resolved_path" in details else {}),
                "examiner": event.examiner, "received_utc": event.ts_utc})
    return receipts


def failure_summary(case_id: str, findings: Sequence[Finding]) -> str:
    """How a case that fails verification is named where its rows are refused or shown: the
    number of findings and the first one."""
    return (f"case {case_id!r} fails verification ({len(findings)} findings, first: {findings[0].object}: "
            f"{findings[0].problem})")


def receipt_text(receipt: dict[str, Any]) -> str:
    """One repeat receipt (see `repeat_receipts`) as a line: when, by whom, under
    which name and path (and the file read, where that differs), source and note."""
    read = f"; file read {receipt['resolved_path']}" if receipt.get("resolved_path") else ""
    return (f"{receipt['received_utc'][:19].replace('T', ' ')} UTC by {receipt['examiner']}: the same bytes as "
            f"{receipt['original_filename']} ({receipt['original_path']}{read}); source "
            f"{receipt['source'] or 'not recorded'}; note {receipt['note'] or 'none'}")


def _paths(given: Path) -> dict[str, str]:
    """An intake's `original_path`, the path as the examiner gave it, made absolute without
    resolving anything in it (its file name is the recorded `original_filename`), and
    `resolved_path`, the file read, where links or `..` on that path lead elsewhere."""
    absolute, resolved = os.path.join(os.getcwd(), given), os.path.realpath(given)
    return {"original_path": absolute, **({"resolved_path": resolved} if resolved != absolute else {})}
