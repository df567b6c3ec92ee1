"""`fs2f audit verify` catches every kind of tampering and names the object."""

from __future__ import annotations

import json
import multiprocessing
import os
import sqlite3

import pytest

from conftest import write_tone
from forensic_s2f.store.case_store import CaseStore


@pytest.fixture
def case(cli, store_dir, tmp_path):
    """A case with two evidence files, an activity with one artifact, and a clean verify."""
    files = [write_tone(tmp_path / f"e{i}.wav", frequency=200 + 100 * i) for i in range(2)]
    assert cli("case", "add", "C1", *files, "-e", "Ann").code == 0
    store = CaseStore(store_dir)
    activity = store.start_activity("C1", "test-step", "Ann", {"threshold": 0.5}, {"fs2f": "test"},
                                    inputs=[{"evidence_id": 1}])
    store.finish_activity(activity.id, "Ann", outputs=[], artifacts=[("note", "note.txt", b"derived bytes", "text/plain")])
    store.close()
    result = cli("audit", "verify", "C1")
    assert result.code == 0 and "OK" in result.stdout, result
    return store_dir


def _raw(store_dir, *statements):
    """Tamper as an attacker with file access would: drop the triggers, then raw SQL."""
    with sqlite3.connect(store_dir / "fs2f.db") as connection:
        connection.execute("DROP TRIGGER IF EXISTS custody_event_no_update")
        connection.execute("DROP TRIGGER IF EXISTS custody_event_no_delete")
        connection.execute("DROP TRIGGER IF EXISTS evidence_no_update")
        for statement in statements:
            connection.execute(statement)


def _vault_file(store_dir, sha):
    path = store_dir / "vault" / "sha256" / sha[:2] / sha[2:]
    path.chmod(0o644)
    return path


def _evidence(cli):
    return json.loads(cli("case", "show", "C1", "--json").stdout)["evidence"]


def _verify_fails(cli, *expected):
    result = cli("audit", "verify", "C1")
    assert result.code == 1, result
    for text in expected:
        assert text in result.stdout, result.stdout
    return result.stdout


def test_changed_vault_byte(cli, case):
    evidence = _evidence(cli)[0]
    path = _vault_file(case, evidence["sha256"])
    data = bytearray(path.read_bytes())
    data[100] ^= 0x01
    path.write_bytes(bytes(data))
    _verify_fails(cli, "evidence 1 (e0.wav)", "SHA-256 does not match", evidence["sha256"])


def test_deleted_vault_file(cli, case):
    evidence = _evidence(cli)[1]
    _vault_file(case, evidence["sha256"]).unlink()
    _verify_fails(cli, "evidence 2 (e1.wav)", "vault file missing")


def test_edited_log_row(cli, case):
    _raw(case, "UPDATE custody_event SET examiner = 'Mallory' WHERE seq = 2")
    _verify_fails(cli, "custody event seq 2", "entry hash does not match")


def test_deleted_log_row(cli, case):
    _raw(case, "DELETE FROM custody_event WHERE seq = 2")
    out = _verify_fails(cli, "previous-hash link broken", "sequence gap")
    assert "evidence 1" in out  # its intake event is gone too


def test_reordered_log_rows(cli, case):
    _raw(case, "UPDATE custody_event SET seq = -1 WHERE seq = 2",
         "UPDATE custody_event SET seq = 2 WHERE seq = 3",
         "UPDATE custody_event SET seq = 3 WHERE seq = -1")
    _verify_fails(cli, "sequence gap or reordering", "custody event seq 3")


def test_inserted_log_row(cli, case):
    with sqlite3.connect(case / "fs2f.db") as connection:
        row = connection.execute("SELECT * FROM custody_event WHERE seq = 2").fetchone()
    columns = "case_id, seq, ts_utc, examiner, action, object_kind, object_id, object_sha256, details_json, prev_hash, entry_hash"
    _raw(case, "UPDATE custody_event SET seq = seq + 1000 WHERE seq >= 2",
         "UPDATE custody_event SET seq = seq - 999 WHERE seq >= 1000",
         f"INSERT INTO custody_event ({columns}) VALUES ('C1', 2, '{row[3]}', 'Mallory', 'intake', 'evidence', '99', "
         f"'{'f' * 64}', '{{}}', '{row[10]}', '{'e' * 64}')")
    _verify_fails(cli, "custody event seq 2", "entry hash does not match", "logged at seq 2 (intake) but its row is missing")


def test_artifact_hash_mismatch(cli, case):
    store = CaseStore(case)
    artifact = store.artifacts("C1")[0]
    store.close()
    path = _vault_file(case, artifact.sha256)
    path.write_bytes(b"altered derived bytes")
    _verify_fails(cli, f"artifact {artifact.id} (note.txt)", "SHA-256 does not match")


def test_edited_evidence_row(cli, case):
    _raw(case, f"UPDATE evidence SET sha256 = '{'a' * 64}' WHERE id = 1")
    _verify_fails(cli, "evidence 1", "differs from the custody log")


def test_triggers_refuse_update_and_delete(case):
    with sqlite3.connect(case / "fs2f.db") as connection:
        for statement in ("UPDATE custody_event SET examiner = 'x'", "DELETE FROM custody_event",
                          "UPDATE evidence SET note = 'x'", "DELETE FROM evidence", "DELETE FROM artifact"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                connection.execute(statement)


def test_verify_is_logged_and_all_cases(cli, case, tmp_path):
    assert cli("case", "add", "C2", write_tone(tmp_path / "other.wav", frequency=900), "-e", "Bob").code == 0
    result = cli("audit", "verify", "--all", "--json", "-e", "Auditor A")
    assert result.code == 0
    report = json.loads(result.stdout)
    assert [(r["case_id"], r["ok"]) for r in report] == [("C1", True), ("C2", True)]
    log = json.loads(cli("audit", "log", "C2", "--json").stdout)
    assert log[-1]["action"] == "verify" and log[-1]["examiner"] == "Auditor A"
    assert log[-1]["details"]["verified_head"] == log[-2]["entry_hash"]
    assert cli("audit", "verify").code != 0  # neither a case nor --all


def _append_events(home: str, worker: int, count: int) -> None:
    store = CaseStore(home)
    for i in range(count):
        store.record_event("C1", f"writer-{worker}", "export", "test", f"{worker}-{i}")
    store.close()


def test_four_concurrent_writers_keep_one_chain(cli, case):
    count = 25
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_append_events, args=(str(case), w, count)) for w in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)
        assert worker.exitcode == 0
    log = json.loads(cli("audit", "log", "C1", "--json").stdout)
    exports = [e for e in log if e["action"] == "export"]
    assert len(exports) == 4 * count
    assert sorted(e["object_id"] for e in exports) == sorted(f"{w}-{i}" for w in range(4) for i in range(count))
    assert [e["seq"] for e in log] == list(range(1, len(log) + 1))
    assert cli("audit", "verify", "C1").code == 0


def test_nothing_left_in_vault_staging(case):
    staging = case / "vault" / "tmp"
    assert not staging.exists() or not os.listdir(staging)


def test_what_a_killed_ingest_leaves_is_cleared_or_named(cli, case, tmp_path):
    """SIGKILL during `case add` can leave a half-copied file in the vault's staging folder
    (cleared by the next write, which holds the store lock, so none is in use) or a whole
    object no row names (named by `audit verify --all`, which still passes)."""
    from forensic_s2f.store.vault import Vault

    vault = Vault(case / "vault")
    (case / "vault" / "tmp" / "incoming-abc123").write_bytes(b"half a recording")
    orphan = vault.put_bytes(b"a recording whose row was never committed")
    assert cli("case", "add", "C1", write_tone(tmp_path / "e9.wav", frequency=950), "-e", "Ann").code == 0
    assert list((case / "vault" / "tmp").iterdir()) == []
    (orphan.path.parent / ".DS_Store").write_bytes(b"")  # (files that are no objects are not named, nor fatal)
    (case / "vault" / "sha256" / "zz").write_bytes(b"")
    (case / "vault" / "sha256" / "abc").mkdir()  # (three hex digits: no object folder)
    (case / "vault" / "sha256" / "abc" / ("0" * 62)).write_bytes(b"")
    result = cli("audit", "verify", "--all", "-e", "Auditor A")
    assert result.code == 0 and "C1: OK" in result.stdout
    assert result.stderr == (f"note: {orphan.path}: a vault file no case records (left by an interrupted command, "
                             "or by records taken out of the database, as when an older copy of it is put back: `--expect-head` tells)\n")


def test_an_event_timed_before_the_one_it_follows_is_noted(cli, case, store_dir, monkeypatch):
    """A clock set back leaves a chain that verifies; the auditor is told where time went back."""
    from forensic_s2f.store import custody

    with monkeypatch.context() as patched:
        patched.setattr(custody, "utc_now", lambda: "2001-01-01T00:00:00.000000Z")
        store = CaseStore(store_dir)
        try:
            late = store.record_event("C1", "Ann", "export", "run", "1")
        finally:
            store.close()
    result = cli("audit", "verify", "C1")
    assert result.code == 0
    assert f"event seq {late.seq} (export, 2001-01-01T00:00:00.000000Z) is timed before seq {late.seq - 1}" in result.stderr
    assert result.stderr.count("timed before") == 1  # (the verify logged after it is timed after it again)


def test_an_auditor_name_that_cannot_be_recorded_is_refused_not_replaced(cli, case, store_dir):
    """A hidden character in --examiner made verify log the OS user instead, unsaid."""
    from conftest import store_snapshot

    before = store_snapshot(store_dir)
    refused = cli("audit", "verify", "C1", "--examiner", "Eve\u202eliA")
    assert refused.code == 2 and "examiner name must be printable" in refused.stderr
    assert store_snapshot(store_dir) == before
    assert cli("audit", "verify", "C1").code == 0
    assert json.loads(cli("audit", "log", "C1", "--json").stdout)[-1]["examiner"].startswith("os-user:")
