"""What `fs2f audit verify` checks besides the hash chain and the vault: that every row of a
case still says what its custody events logged.

A row is compared with the details of the event that recorded it (the case with `case-open`,
evidence with `intake`, an activity with `activity-start`/`activity-end`, an artifact with
`artifact`, a run with `analysis-start`/`analysis-end`, a run's findings on one evidence file
with `analysis-result`, whose object SHA-256 is the digest of the stored findings). Events
written by earlier fs2f versions log fewer fields; only the fields an event holds are compared.
Pure functions: rows and events in, findings out.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

from forensic_s2f.errors import StoreError
from forensic_s2f.store.custody import Finding, canonical_json
from forensic_s2f.store.models import Activity, AnalysisRun, Artifact, Case, CustodyEvent, Evidence

MIN_HEAD_HEX = 32  # hex digits of an expected head: 128 bits, beyond any search for a forged match
RESULT_DIGEST = "stored-rows"  # `analysis-result` details["digest"]: the digest covers the findings as stored

# detail key -> row column, per kind of row (the examiner is the event's own field)
EVIDENCE_DETAILS = ("original_filename", "original_path", "size_bytes", "media_type", "codec", "sample_rate_hz",
                    "channels", "duration_seconds", "source", "note", "ingested_utc")
ARTIFACT_DETAILS = ("kind", "label", "activity_id", "size_bytes", "media_type", "created_utc")
ACTIVITY_START_DETAILS = {"kind": "kind", "run_id": "run_id", "parameters": "parameters_json",
                          "inputs": "inputs_json", "software": "software_json", "model_name": "model_name",
                          "model_sha256": "model_sha256", "host": "host", "started_utc": "started_utc"}
ACTIVITY_END_DETAILS = {"status": "status", "outputs": "outputs_json", "ended_utc": "ended_utc"}
RUN_START_DETAILS = {"parameters": "parameters_json", "evidence_ids": "evidence_ids_json", "started_utc": "started_utc"}
RUN_END_DETAILS = {"status": "status", "error": "error", "ended_utc": "ended_utc"}


def result_digest(result: Any) -> str:
    """SHA-256 of an EvidenceResult's canonical JSON."""
    return hashlib.sha256(canonical_json(asdict(result)).encode("utf-8")).hexdigest()


def details_of(event: CustodyEvent) -> dict[str, Any]:
    """An event's details ({} when they do not parse: the chain check reports that)."""
    try:
        details = json.loads(event.details_json)
    except json.JSONDecodeError:
        return {}
    return details if isinstance(details, dict) else {}


class Events:
    """A case's events by (action, object id)."""

    def __init__(self, events: list[CustodyEvent]) -> None:
        self.by_key: dict[tuple[str, str], list[CustodyEvent]] = {}
        for event in events:
            self.by_key.setdefault((event.action, event.object_id), []).append(event)
        self.used: set[int] = set()

    def one(self, case_id: str, name: str, action: str, object_id: str, required: bool = True) -> tuple[CustodyEvent | None, list[Finding]]:
        """The single `action` event of an object, with a finding when there is none (and one is
        required) or several."""
        found = self.by_key.get((action, str(object_id)), [])
        self.used.update(event.id for event in found)
        if not found:
            return None, [Finding(case_id, name, f"row has no {action} custody event", "an event", "none")] if required else []
        if len(found) > 1:
            return found[0], [Finding(case_id, name, f"{action} logged {len(found)} times", "once", ", ".join(f"seq {e.seq}" for e in found))]
        return found[0], []

    def unused(self, actions: Iterable[str]) -> list[CustodyEvent]:
        wanted = set(actions)
        return [e for events in self.by_key.values() for e in events if e.action in wanted and e.id not in self.used]


def compare(case_id: str, name: str, event: CustodyEvent, row: object, fields: dict[str, str]) -> list[Finding]:
    """Findings for each detail of `event` (named in `fields`: detail key -> column) that the row
    no longer holds; JSON columns are compared as parsed values."""
    details = details_of(event)
    findings = []
    for key, column in fields.items():
        if key not in details:
            continue
        value = getattr(row, column)
        if column.endswith("_json"):
            try:
                value = json.loads(value)
            except (TypeError, json.JSONDecodeError):
                value = f"unparseable {value!r}"
        if _canonical(value) != _canonical(details[key]):  # (1, 1.0 and true are not the same value here)
            findings.append(Finding(case_id, name, f"{column} differs from the custody log (seq {event.seq})",
                                    _short(details[key]), _short(value)))
    return findings


def check_examiner(case_id: str, name: str, event: CustodyEvent, examiner: str, column: str = "examiner") -> list[Finding]:
    if examiner != event.examiner:
        return [Finding(case_id, name, f"{column} differs from the custody log (seq {event.seq})", event.examiner, examiner)]
    return []


def check_case(case: Case, events: list[CustodyEvent], index: Events) -> list[Finding]:
    """The chain opens with the case's `case-open` event, which still matches the case row."""
    name = f"case {case.id}"
    if not events:
        return [Finding(case.id, name, "case has no custody events", "case-open at seq 1", "none")]
    first = events[0]
    findings = []
    if first.action != "case-open" or first.object_id != case.id:
        findings.append(Finding(case.id, name, "the chain does not open with the case's case-open event",
                                "case-open", f"{first.action} {first.object_id}"))
    event, problems = index.one(case.id, name, "case-open", case.id)
    findings += problems
    if event is not None:
        findings += compare(case.id, name, event, case, {"title": "title", "created_utc": "created_utc"})
        findings += check_examiner(case.id, name, event, case.created_by, "created_by")
    return findings


def check_evidence(row: Evidence, index: Events) -> list[Finding]:
    name = f"evidence {row.id} ({row.original_filename})"
    event, findings = _check_stored(row, name, "intake", EVIDENCE_DETAILS, index)
    return findings + (check_examiner(row.case_id, name, event, row.examiner) if event is not None else [])


def check_artifact(row: Artifact, index: Events) -> list[Finding]:
    return _check_stored(row, f"artifact {row.id} ({row.label})", "artifact", ARTIFACT_DETAILS, index)[1]


def _check_stored(row: Evidence | Artifact, name: str, action: str, fields: tuple[str, ...],
                  index: Events) -> tuple[CustodyEvent | None, list[Finding]]:
    """A row naming a vault file against the event that logged it: the SHA-256 and `fields`."""
    event, findings = index.one(row.case_id, name, action, str(row.id))
    if event is None:
        return None, findings
    if event.object_sha256 != row.sha256:
        findings.append(Finding(row.case_id, name, "row's SHA-256 differs from the custody log", event.object_sha256, row.sha256))
    return event, findings + compare(row.case_id, name, event, row, {key: key for key in fields})


def check_started_and_ended(case_id: str, name: str, row: Activity | AnalysisRun, index: Events, actions: tuple[str, str],
                            start_fields: dict[str, str], end_fields: dict[str, str]) -> list[Finding]:
    """A step's row against its start event and, if it ended, its end event; one without an end
    event must still read as running."""
    start, findings = index.one(case_id, name, actions[0], str(row.id))
    if start is not None:
        findings += compare(case_id, name, start, row, start_fields)
        findings += check_examiner(case_id, name, start, row.examiner)
    end, problems = index.one(case_id, name, actions[1], str(row.id), required=False)
    findings += problems
    if end is not None:
        findings += compare(case_id, name, end, row, end_fields)
    elif row.status != "running" or row.ended_utc is not None:
        findings.append(Finding(case_id, name, f"status is {row.status!r} but no {actions[1]} event was logged",
                                "running", row.status))
    else:  # (still running, or killed: what it holds must be what it started with)
        unended = {"error": ""} if isinstance(row, AnalysisRun) else {"outputs_json": "[]"}
        for column, value in unended.items():
            if getattr(row, column) != value:
                findings.append(Finding(case_id, name, f"{column} changed though no {actions[1]} event was logged",
                                        value or "empty", _short(getattr(row, column))))
    return findings


def check_activity(row: Activity, index: Events) -> list[Finding]:
    return check_started_and_ended(row.case_id, f"activity {row.id} ({row.kind})", row, index,
                                   ("activity-start", "activity-end"), ACTIVITY_START_DETAILS, ACTIVITY_END_DETAILS)


def check_run(row: AnalysisRun, index: Events) -> list[Finding]:
    return check_started_and_ended(row.case_id, f"analysis run {row.id}", row, index,
                                   ("analysis-start", "analysis-end"), RUN_START_DETAILS, RUN_END_DETAILS)


def check_results(case_id: str, results: dict[tuple[int, int], Any], orphans: list[tuple[int, int]],
                  events: list[CustodyEvent], counts: dict[tuple[int, int], int]) -> list[Finding]:
    """Each run's stored findings per evidence file against its `analysis-result` event: the
    digest of the stored rows (or, for events of earlier versions, the counts and warnings), and
    the speaker count its row keeps (`counts`)."""
    logged: dict[tuple[int, int], list[CustodyEvent]] = {}
    for event in events:
        if event.action == "analysis-result":
            key = (_int(event.object_id), _int(details_of(event).get("evidence_id")))
            logged.setdefault(key, []).append(event)
    findings = []
    for (run_id, evidence_id), result in sorted(results.items(), key=lambda item: str(item[0])):
        name = f"analysis run {run_id}, evidence {evidence_id}: findings"
        found = logged.pop((run_id, evidence_id), [])
        if len(found) != 1:
            findings.append(Finding(case_id, name, "findings are not logged exactly once", "1 analysis-result event",
                                    str(len(found))))
            continue
        event = found[0]
        details = details_of(event)
        if counts.get((run_id, evidence_id)) != len(result.speakers):
            findings.append(Finding(case_id, name, "speaker_count differs from the speakers stored",
                                    str(len(result.speakers)), str(counts.get((run_id, evidence_id)))))
        if details.get("digest") == RESULT_DIGEST:
            actual = result_digest(result)
            if actual != event.object_sha256:
                findings.append(Finding(case_id, name, f"stored findings differ from the custody log (seq {event.seq})",
                                        event.object_sha256, actual))
            continue
        stored = {"speakers": len(result.speakers), "segments": len(result.segments), "warnings": result.warnings}
        for key, value in stored.items():
            if key in details and details[key] != value:
                findings.append(Finding(case_id, name, f"{key} differ from the custody log (seq {event.seq})",
                                        _short(details[key]), _short(value)))
    for (run_id, evidence_id), found in sorted(logged.items(), key=lambda item: str(item[0])):
        findings.append(Finding(case_id, f"analysis run {run_id}, evidence {evidence_id}: findings",
                                f"logged at seq {found[0].seq} but no longer stored", "stored findings", "none"))
    for run_id, evidence_id in orphans:
        findings.append(Finding(case_id, f"analysis run {run_id}, evidence {evidence_id}",
                                "speaker or segment rows without the run's findings on that evidence", "none", "rows"))
    return findings


def check_schema(case_id: str, schema: dict[tuple[str, str], tuple[str, str | None]],
                 expected: dict[tuple[str, str], tuple[str, str | None]], problems: list[str]) -> list[Finding]:
    """The store's sqlite_master ((type, name) → table, SQL) is exactly what the migrations create
    (`expected`), word for word up to spacing, and SQLite's integrity check finds nothing
    (`problems`). A refusing trigger given a `WHEN 0` or a body that no longer raises is as good
    as gone; a trigger fs2f does not create could change rows as they are written; an index fs2f
    does not create, or statistics tables (`ANALYZE`), steer queries to other indexes; and an
    index whose entries no longer match its table (rows forged into it) answers the queries that
    read it with the forged rows, while the checks here read the table."""
    flat = lambda sql: " ".join(str(sql).split())  # noqa: E731
    changed = sorted((key for key, (table, sql) in expected.items()
                      if key not in schema or schema[key][0] != table or flat(schema[key][1]) != flat(sql)))
    foreign = sorted(set(schema) - set(expected))
    findings = []
    for keys, triggers_wanted, expected_text, problem in (
            (changed, True, "as the migrations create them", "protective triggers are missing or changed (rows could be "
             "changed)"),
            (foreign, True, "none", "triggers fs2f does not create are present (they could change rows as they are "
             "written)"),
            (changed, False, "as the migrations create them", "tables or indexes are missing or changed (queries could "
             "read other rows than the checks)"),
            (foreign, False, "none", "tables, indexes or views fs2f does not create are present (indexes and ANALYZE "
             "statistics steer what queries read)")):
        names = [name if kind == "trigger" else f"{name} ({kind})" for kind, name in keys
                 if (kind == "trigger") == triggers_wanted]
        if names:
            findings.append(Finding(case_id, "store schema", problem, expected_text, ", ".join(names)))
    if problems:
        findings.append(Finding(case_id, "store database", "SQLite's integrity check fails (an index that no longer "
                                "matches its table answers queries with rows the table does not hold)", "ok",
                                _short("; ".join(problems))))
    return findings


def check_json_columns(case_id: str, rows: Iterable[Any]) -> list[Finding]:
    """No JSON column of the rows repeats a key within one object: the checks here parse it with
    Python, which keeps the last of two equal keys, while SQLite's json_extract reads the first,
    so a forged value put first would be what an auditor querying with SQL sees."""
    findings = []
    for row in rows:
        for column in row.__table__.columns:
            if column.name.endswith("_json"):
                repeated = _repeated_key(getattr(row, column.name))
                if repeated is not None:
                    findings.append(Finding(case_id, f"{row.__tablename__} row {row.id}", f"{column.name} repeats the key "
                                            f"{repeated!r} (SQL reads the first, the checks the last)", "each key once",
                                            _short(getattr(row, column.name))))
    return findings


def _repeated_key(text: Any) -> str | None:
    repeated: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in items]
        repeated.extend(key for key in keys if keys.count(key) > 1)
        return dict(items)

    try:
        json.loads(text, object_pairs_hook=pairs)
    except (TypeError, ValueError):  # (text that does not parse fails the digest checks)
        return None
    return repeated[0] if repeated else None


def check_stray_findings(case_id: str, strays: Iterable[Any]) -> list[Finding]:
    """Findings rows (run_evidence, speaker, segment) on the case's evidence that name a run the
    case does not hold: planted for a run yet to come, they would make that run's honest findings
    fail verification."""
    return [Finding(case_id, f"{row.__tablename__} row {row.id}", f"names analysis run {row.run_id}, which this case "
                    "does not hold", "a run of the case", f"run {row.run_id}") for row in strays]


def check_expected_heads(case_id: str, events: list[CustodyEvent], expected: Iterable[str]) -> list[Finding]:
    """Each expected head (a full entry hash or its first MIN_HEAD_HEX+ hex digits) is still in the
    chain. A shorter prefix could be matched by a forged event: the event's time is a free nonce,
    and 12 hex digits (48 bits) fall to some hours of GPU hashing."""
    findings = []
    for head in expected:
        prefix = head.strip().lower()
        if len(prefix) < MIN_HEAD_HEX or len(prefix) > 64 or any(c not in "0123456789abcdef" for c in prefix):
            raise StoreError(f"--expect-head {head!r}: give a head hash, at least its first {MIN_HEAD_HEX} hex digits")
        if not any(event.entry_hash.startswith(prefix) for event in events):
            findings.append(Finding(case_id, "custody log", "an expected head is no longer in the chain (the log was "
                                    "rolled back or rebuilt)", prefix, f"head {events[-1].entry_hash if events else 'none'}"))
    return findings


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def _canonical(value: Any) -> str:
    """Canonical JSON of a value; a value JSON cannot hold (a BLOB put in a text column) as its repr."""
    try:
        return canonical_json(value)
    except (TypeError, ValueError):
        return f"not JSON: {value!r}"


def _short(value: Any, limit: int = 120) -> str:
    text = value if isinstance(value, str) else repr(value) if isinstance(value, bytes) else canonical_json(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def clock_steps_back(case_id: str, events: list[CustodyEvent]) -> list[str]:
    """Notes (not findings) on events timed before the event they follow: a machine's clock set
    back (which happens) or events written out of order (which the chain alone does not show)."""
    return [f"{case_id}: event seq {later.seq} ({later.action}, {later.ts_utc}) is timed before seq {earlier.seq} "
            f"({earlier.ts_utc}): a clock set back, or events written out of order"
            for earlier, later in zip(events, events[1:]) if later.ts_utc < earlier.ts_utc]
