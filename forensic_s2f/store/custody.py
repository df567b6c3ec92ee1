"""The chain-of-custody log: one hash chain per case.

entry_hash = SHA-256 over the canonical JSON (sorted keys, no spaces, UTF-8) of every
field of the event plus the previous entry's hash; the first event's previous hash is
64 zeros. Appends run inside a BEGIN IMMEDIATE transaction, so concurrent writers
queue and the chain never forks.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from forensic_s2f.store.models import CustodyEvent

GENESIS_HASH = "0" * 64


def utc_now() -> str:
    """The current time as ISO-8601 UTC with microseconds, e.g. 2026-11-26T13:40:00.000000Z."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_fields(event: CustodyEvent) -> dict[str, Any]:
    """The hashed fields of an event, details parsed back from their canonical JSON."""
    return {
        "case_id": event.case_id,
        "seq": event.seq,
        "ts_utc": event.ts_utc,
        "examiner": event.examiner,
        "action": event.action,
        "object_kind": event.object_kind,
        "object_id": event.object_id,
        "object_sha256": event.object_sha256,
        "details": json.loads(event.details_json),
        "prev_hash": event.prev_hash,
    }


def entry_hash(fields: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(fields).encode("utf-8")).hexdigest()


def head(session: Session, case_id: str) -> CustodyEvent | None:
    """The latest event of a case's chain, or None for an empty chain."""
    return session.scalars(
        select(CustodyEvent).where(CustodyEvent.case_id == case_id).order_by(CustodyEvent.seq.desc()).limit(1)
    ).first()


def append(
    session: Session,
    case_id: str,
    examiner: str,
    action: str,
    object_kind: str,
    object_id: str,
    object_sha256: str = "",
    details: dict[str, Any] | None = None,
) -> CustodyEvent:
    """Add one event to the case's chain inside the session's (immediate) transaction."""
    last = head(session, case_id)
    event = CustodyEvent(
        case_id=case_id,
        seq=(last.seq + 1) if last else 1,
        ts_utc=utc_now(),
        examiner=examiner,
        action=action,
        object_kind=object_kind,
        object_id=str(object_id),
        object_sha256=object_sha256,
        details_json=canonical_json(details or {}),
        prev_hash=last.entry_hash if last else GENESIS_HASH,
    )
    event.entry_hash = entry_hash(event_fields(event))
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class Finding:
    """One thing verification found wrong: which object, what was expected, what was found."""

    case_id: str
    object: str
    problem: str
    expected: str = ""
    found: str = ""

    def __post_init__(self) -> None:  # (a tampered row may hold bytes or numbers: findings are text)
        for name in ("case_id", "object", "problem", "expected", "found"):
            value = getattr(self, name)
            if not isinstance(value, str):
                object.__setattr__(self, name, repr(value) if isinstance(value, bytes) else str(value))

    def line(self) -> str:
        text = f"{self.case_id}: {self.object}: {self.problem}"
        if self.expected or self.found:
            text += f" (expected {self.expected or '-'}, found {self.found or '-'})"
        return text


def verify_chain(events: list[CustodyEvent], case_id: str) -> list[Finding]:
    """Check a case's events, given in row (insertion) order, against their hash chain.

    Catches edited fields, deleted, inserted and reordered rows, and details whose stored text
    is not the canonical JSON that was hashed (a repeated key reads one way to SQLite's
    json_extract and another to Python).
    """
    findings: list[Finding] = []
    previous_hash = GENESIS_HASH
    for position, event in enumerate(events, start=1):
        name = f"custody event seq {event.seq} (row {event.id})"
        if event.seq != position:
            findings.append(Finding(case_id, name, "sequence gap or reordering", str(position), str(event.seq)))
        if event.prev_hash != previous_hash:
            findings.append(Finding(case_id, name, "previous-hash link broken", previous_hash, event.prev_hash))
        try:
            recomputed = entry_hash(event_fields(event))
            canonical = canonical_json(json.loads(event.details_json)) == event.details_json
        except (ValueError, TypeError):  # (details that do not parse, or a BLOB put in a text column)
            recomputed, canonical = "unreadable fields", True
        if recomputed != event.entry_hash:
            findings.append(Finding(case_id, name, "entry hash does not match its contents", recomputed, event.entry_hash))
        elif not canonical:  # (the hash covers the parsed details: a duplicated key would read two ways)
            findings.append(Finding(case_id, name, "details are not stored as the canonical JSON that was hashed",
                                    "canonical JSON", event.details_json[:120]))
        previous_hash = event.entry_hash
    return findings
