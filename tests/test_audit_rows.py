"""`fs2f audit verify` checks every row of a case against the custody events that logged it, not
only the chain and the vault: findings, runs, activities, artifacts, evidence and the case."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest

from conftest import write_tone
from forensic_s2f.store.case_store import CaseStore
from report_fixtures import record_run
from test_audit import _verify_fails as _fails


@pytest.fixture
def analysed(cli, store_dir, tmp_path):
    """A case with one evidence file and a completed run of two speakers; verify passes."""
    assert cli("case", "add", "C1", write_tone(tmp_path / "e0.wav", seconds=8.0), "-e", "Ann").code == 0
    store = CaseStore(store_dir)
    record_run(store, "C1", 1, duration=8.0, speakers=2)
    store.close()
    result = cli("audit", "verify", "C1")
    assert result.code == 0, result
    return store_dir


def _tamper(store_dir, *statements):
    """An attacker with file access: every protective trigger dropped, then raw SQL, then the
    triggers put back as they were."""
    with sqlite3.connect(store_dir / "fs2f.db") as connection:
        triggers = connection.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").fetchall()
        for name, _ in triggers:
            connection.execute(f"DROP TRIGGER {name}")
        for statement in statements:
            connection.execute(statement)
        for _, sql in triggers:
            connection.execute(sql)




def test_a_flipped_gender_estimate_is_found(cli, analysed):
    with sqlite3.connect(analysed / "fs2f.db") as connection:
        prediction = json.loads(connection.execute("SELECT prediction_json FROM speaker WHERE id = 1").fetchone()[0])
    gender = prediction["gender"]
    flipped = {**prediction, "gender": {"female": gender["male"], "male": gender["female"]}}
    text = json.dumps(flipped, sort_keys=True, separators=(",", ":")).replace("'", "''")
    _tamper(analysed, f"UPDATE speaker SET prediction_json = '{text}' WHERE id = 1")
    _fails(cli, "analysis run 1, evidence 1: findings", "stored findings differ from the custody log")
    assert cli("case", "report", "C1").code != 0  # no report of forged findings


def test_case_show_says_whether_the_rows_it_shows_verify(cli, analysed, monkeypatch):
    """An analyst reading a case with `case show` is told when its rows are not what the custody
    log recorded (reports and exports refuse such a case); vault files are not re-read there."""
    from forensic_s2f.store import case_store

    def no_rehash(path):
        raise AssertionError(f"case show re-read {path}")

    monkeypatch.setattr(case_store, "sha256_file", no_rehash)
    honest = cli("case", "show", "C1")
    assert honest.code == 0 and honest.stderr == "", honest
    assert "rows agree with the" in " ".join(honest.stdout.split())
    assert json.loads(cli("case", "show", "C1", "--json").stdout)["verification"] == {
        "passed": True, "findings": 0, "vault_rehashed": False, "first": None}
    with sqlite3.connect(analysed / "fs2f.db") as connection:
        speech = connection.execute("SELECT speech_seconds FROM speaker WHERE id = 1").fetchone()[0]
    _tamper(analysed, f"UPDATE speaker SET speech_seconds = {speech + 30.0} WHERE id = 1")
    for args in (("case", "show", "C1"), ("case", "show", "C1", "--json")):
        shown = cli(*args)
        assert shown.code == 0, shown
        assert shown.stderr.startswith("warning: case 'C1' fails verification (") and shown.stderr.count("\n") == 1
        assert "stored findings differ from the custody log" in shown.stderr and "fs2f audit verify C1" in shown.stderr
        assert "rows agree with the" not in " ".join(shown.stdout.split())
    verification = json.loads(cli("case", "show", "C1", "--json").stdout)["verification"]
    assert verification["passed"] is False and verification["findings"] >= 1


def test_case_show_warns_of_a_missing_vault_file(cli, analysed):
    evidence = json.loads(cli("case", "show", "C1", "--json").stdout)["evidence"][0]
    (analysed / "vault" / "sha256" / evidence["sha256"][:2] / evidence["sha256"][2:]).unlink()
    shown = cli("case", "show", "C1")
    assert shown.code == 0 and "fails verification" in shown.stderr and "vault file missing" in shown.stderr, shown


@pytest.mark.parametrize("statement", [
    "DELETE FROM segment WHERE id = 2",
    "UPDATE segment SET end_seconds = end_seconds + 0.5 WHERE id = 1",
    "UPDATE run_evidence SET quality_json = replace(quality_json, '18.5', '35.0')",
    "UPDATE speaker SET warnings_json = '[]' WHERE label = 'SPEAKER_01'",
    "INSERT INTO segment (run_id, evidence_id, speaker_label, start_seconds, end_seconds) "
    "VALUES (1, 1, 'SPEAKER_09', 7.0, 7.5)",
])
def test_changed_segments_and_warnings_are_found(cli, analysed, statement):
    _tamper(analysed, statement)
    _fails(cli, "stored findings differ from the custody log")


def test_findings_rows_without_their_run_row_are_found(cli, analysed):
    _tamper(analysed, "DELETE FROM run_evidence")
    _fails(cli, "logged at seq", "but no longer stored", "speaker or segment rows without the run's findings")


def test_run_and_activity_rows_are_checked_and_guarded(cli, analysed):
    with sqlite3.connect(analysed / "fs2f.db") as connection:  # the new triggers refuse
        for statement in ("UPDATE analysis_run SET status = 'failed'", "UPDATE activity SET parameters_json = '{}'",
                          "DELETE FROM analysis_run", "DELETE FROM activity"):
            with pytest.raises(sqlite3.DatabaseError, match="analysis_run|activity"):
                connection.execute(statement)
    _tamper(analysed, "UPDATE analysis_run SET parameters_json = '{\"options\":{\"denoise\":false}}'",
            "UPDATE activity SET model_sha256 = 'f00d' WHERE kind = 'speech2face'",
            "UPDATE activity SET status = 'failed' WHERE id = 1")
    _fails(cli, "analysis run 1: parameters_json differs from the custody log",
           "model_sha256 differs from the custody log", "activity 1 (diarize): status differs")


def test_a_running_step_may_end_once(cli, store_dir, tmp_path):
    assert cli("case", "add", "C1", write_tone(tmp_path / "e0.wav"), "-e", "Ann").code == 0
    store = CaseStore(store_dir)
    run = store.start_run("C1", "Ann", {}, [1])
    store.finish_run(run.id, "Ann", "failed", "stopped")
    with pytest.raises(Exception, match="change only when a running step ends"):
        store.finish_run(run.id, "Ann", "completed")
    other = store.start_run("C1", "Ann", {}, [1])  # killed: no end event, still 'running'
    store.close()
    assert cli("audit", "verify", "C1").code == 0
    _tamper(store_dir, f"UPDATE analysis_run SET status = 'completed' WHERE id = {other.id}")
    _fails(cli, f"analysis run {other.id}", "status is 'completed' but no analysis-end event was logged")


@pytest.mark.parametrize(("statement", "expected"), [
    ("UPDATE evidence SET original_filename = 'innocent.wav'", "original_filename differs"),
    ("UPDATE evidence SET examiner = 'Mallory'", "examiner differs"),
    ("UPDATE evidence SET source = 'planted'", "source differs"),
    ("UPDATE \"case\" SET title = 'another case'", "title differs"),
    ("UPDATE \"case\" SET created_by = 'Mallory'", "created_by differs"),
    ("UPDATE artifact SET label = 'other.png' WHERE id = 1", "label differs"),
    ("UPDATE artifact SET activity_id = 1 WHERE id = 3", "activity_id differs"),
])
def test_edited_rows_are_found(cli, analysed, statement, expected):
    _tamper(analysed, statement)
    _fails(cli, expected)


def test_protective_triggers_are_checked(cli, analysed):
    with sqlite3.connect(analysed / "fs2f.db") as connection:
        connection.execute("DROP TRIGGER speaker_no_update")
    _fails(cli, "protective triggers are missing", "speaker_no_update")


@pytest.mark.parametrize("name, sql", [
    ("speaker_no_update", "CREATE TRIGGER speaker_no_update BEFORE UPDATE ON \"speaker\" WHEN 0 "
                          "BEGIN SELECT RAISE(ABORT, 'speaker is append-only'); END"),
    ("custody_event_no_delete", "CREATE TRIGGER custody_event_no_delete BEFORE DELETE ON \"custody_event\" "
                                "BEGIN SELECT 'RAISE(ABORT'; END"),
])
def test_a_protective_trigger_that_no_longer_refuses_is_found(cli, analysed, name, sql):
    """An auditor's review kept each trigger's name, table and the words 'BEFORE UPDATE ON' and
    'RAISE(ABORT' while making it refuse nothing; verify passed, and rows could be changed."""
    with sqlite3.connect(analysed / "fs2f.db") as connection:
        connection.execute(f"DROP TRIGGER {name}")
        connection.execute(sql)
    _fails(cli, "protective triggers are missing or changed", name)


def test_a_trigger_fs2f_does_not_create_is_found(cli, analysed):
    with sqlite3.connect(analysed / "fs2f.db") as connection:
        connection.execute("CREATE TRIGGER quiet AFTER INSERT ON segment BEGIN SELECT 1; END")
    _fails(cli, "triggers fs2f does not create are present", "quiet")


@pytest.mark.parametrize("table, column, key", [
    ("speaker", "prediction_json", "gender"),
    ("analysis_run", "parameters_json", "options"),
])
def test_a_repeated_key_in_a_row_s_json_is_found(cli, analysed, table, column, key):
    """The row checks parse JSON with Python (the last of two equal keys wins); SQLite's
    json_extract reads the first: a forged value put first passed verify while SQL read it."""
    with sqlite3.connect(analysed / "fs2f.db") as connection:
        text = connection.execute(f"SELECT {column} FROM {table} WHERE id = 1").fetchone()[0]
    forged = '{"' + key + '":{"forged":1},' + text[1:]
    _tamper(analysed, f"UPDATE {table} SET {column} = '{forged}' WHERE id = 1")
    with sqlite3.connect(analysed / "fs2f.db") as connection:
        assert connection.execute(f"SELECT json_extract({column}, '$.{key}') FROM {table} WHERE id = 1").fetchone()[0] == '{"forged":1}'
    _fails(cli, f"{table} row 1", f"{column} repeats the key '{key}'")


def test_findings_planted_for_a_run_to_come_are_found(cli, analysed):
    """Rows for a run the case does not (yet) hold passed verify; the next honest run then failed
    it, its findings no longer matching its own log."""
    with sqlite3.connect(analysed / "fs2f.db") as connection:  # (sqlite3 leaves foreign keys unchecked)
        connection.execute("INSERT INTO speaker (run_id, evidence_id, label, speech_seconds, segment_count, prediction_json,"
                           " quality_json, warnings_json, artifacts_json) VALUES (2, 1, 'SPEAKER_09', 3.0, 1, '{}', '{}',"
                           " '[]', '{}')")
    _fails(cli, "speaker row", "names analysis run 2, which this case does not hold")


def test_a_case_planted_without_events(cli, analysed):
    with sqlite3.connect(analysed / "fs2f.db") as connection:
        connection.execute("INSERT INTO \"case\" VALUES ('C9', 'planted', '2020-01-01T00:00:00.000000Z', 'Mallory')")
    result = cli("audit", "verify", "C9")
    assert result.code == 1 and "case has no custody events" in result.stdout


def test_a_repeated_key_in_logged_details_is_found(cli, analysed):
    """The hash covers the parsed details, in which the last of two equal keys wins; SQLite's
    json_extract reads the first. The stored text must be the canonical JSON itself."""
    with sqlite3.connect(analysed / "fs2f.db") as connection:
        details = connection.execute("SELECT details_json FROM custody_event WHERE seq = 2").fetchone()[0]
    forged = '{"original_filename":"innocent.wav",' + details[1:]
    _tamper(analysed, f"UPDATE custody_event SET details_json = '{forged}' WHERE seq = 2")
    _fails(cli, "custody event seq 2", "not stored as the canonical JSON that was hashed")


def test_a_rolled_back_log_is_found_with_an_expected_head(cli, analysed, tmp_path):
    shutil.copy(analysed / "fs2f.db", tmp_path / "before.db")
    assert cli("case", "export", "C1", "--format", "json", "--output", tmp_path / "out", "-e", "Ann").code == 0
    verified = json.loads(cli("audit", "verify", "C1", "--json").stdout)[0]
    head = verified["verified_head"]
    assert cli("audit", "verify", "C1", "--expect-head", head[:32]).code == 0
    shutil.copy(tmp_path / "before.db", analysed / "fs2f.db")  # everything since the copy undone
    assert cli("audit", "verify", "C1").code == 0  # the chain alone is consistent
    result = cli("audit", "verify", "C1", "--expect-head", head)
    assert result.code == 1 and "no longer in the chain" in result.stdout
    for short in ("abc", head[:12], head[:31]):  # (48 bits fall to hours of GPU hashing: a forged event could match)
        bad = cli("audit", "verify", "C1", "--expect-head", short)
        assert bad.code == 2 and "at least its first 32 hex digits" in bad.stderr


def test_verify_all_goes_on_past_a_malformed_row(cli, analysed, tmp_path):
    assert cli("case", "add", "C2", write_tone(tmp_path / "other.wav", frequency=900), "-e", "Bob").code == 0
    _tamper(analysed, "UPDATE evidence SET sha256 = 'nothex' WHERE case_id = 'C2'")
    result = cli("audit", "verify", "--all", "--json")
    assert result.code == 1
    report = {entry["case_id"]: entry for entry in json.loads(result.stdout)}
    assert report["C1"]["ok"] and not report["C2"]["ok"]
    assert any("not a digest" in f["problem"] for f in report["C2"]["findings"])


def test_audit_log_shows_an_unparseable_row(cli, analysed):
    _tamper(analysed, "UPDATE custody_event SET details_json = '{bad' WHERE seq = 2")
    for arguments in ([], ["--json"], ["--format", "csv"]):
        result = cli("audit", "log", "C1", *arguments)
        assert result.code == 0 and "internal error" not in result.stderr, result
    log = json.loads(cli("audit", "log", "C1", "--json").stdout)
    assert log[1]["details"] == {"unparseable details_json": "{bad"}
    _fails(cli, "custody event seq 2", "entry hash does not match")


def test_the_database_file_alone_holds_the_store(cli, analysed, tmp_path):
    """Each command closes the store, so SQLite folds its write-ahead log into fs2f.db: a copy
    of fs2f.db alone is the whole store. A database with no tables beside a vault with files
    (its log lost, or the file replaced) is refused, not taken for a new store."""
    assert cli("audit", "verify", "C1").code == 0
    assert not (analysed / "fs2f.db-wal").exists()
    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copy(analysed / "fs2f.db", copy / "fs2f.db")
    with sqlite3.connect(copy / "fs2f.db") as connection:
        assert connection.execute("SELECT count(*) FROM custody_event").fetchone()[0] > 10
    (analysed / "fs2f.db").write_bytes(b"")
    result = cli("case", "add", "C3", write_tone(tmp_path / "new.wav", frequency=700), "-e", "Ann")
    assert result.code == 2 and "holds no cases, but the store's vault holds files" in result.stderr
    assert (analysed / "fs2f.db").stat().st_size == 0


def test_audit_log_csv_guards_formula_like_cells(cli, store_dir, tmp_path):
    examiner = '=HYPERLINK("http://example.invalid","ok")'
    assert cli("case", "add", "C1", write_tone(tmp_path / "e0.wav"), "-e", examiner).code == 0
    result = cli("audit", "log", "C1", "--format", "csv")
    assert result.code == 0
    assert "'" + examiner.replace('"', '""') in result.stdout and ",=HYPERLINK" not in result.stdout
    assert json.loads(cli("audit", "log", "C1", "--json").stdout)[0]["examiner"] == examiner  # JSON keeps it as it is


@pytest.mark.parametrize("name", ["Ann\u202eroD", "Ann\u2028Bob", "Ann\x7f", "Ann\u2066x\u2069"])
def test_examiner_names_with_hidden_characters_are_refused(cli, store_dir, tmp_path, name):
    result = cli("case", "add", "C1", write_tone(tmp_path / "e0.wav"), "-e", name)
    assert result.code == 2 and "examiner name must be printable" in result.stderr
    assert not (store_dir / "fs2f.db").exists()


@pytest.mark.parametrize("name", ["", "  "])
def test_an_empty_examiner_option_is_refused_not_taken_from_the_environment(cli, store_dir, tmp_path, monkeypatch,
                                                                            name):
    """`--examiner ''` recorded the steps under the name `$FS2F_EXAMINER` held."""
    monkeypatch.setenv("FS2F_EXAMINER", "Ann")
    result = cli("case", "add", "C1", write_tone(tmp_path / "e0.wav"), "-e", name)
    assert result.code == 2 and result.stderr == "error: --examiner is empty: give the examiner's name\n"
    assert not (store_dir / "fs2f.db").exists()
    assert cli("case", "add", "C1", write_tone(tmp_path / "e0.wav")).code == 0  # (the environment's name, unasked)


def test_a_persian_name_with_a_zero_width_non_joiner_is_kept(cli, store_dir, tmp_path):
    name = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"
    assert cli("case", "add", "C1", write_tone(tmp_path / "e0.wav"), "-e", name).code == 0
    assert json.loads(cli("audit", "log", "C1", "--json").stdout)[0]["examiner"] == name


def _every_file(home):
    return {str(p.relative_to(home)): p.read_bytes() for p in sorted(home.rglob("*")) if p.is_file()}


def test_an_auditor_reads_a_store_without_writing_to_it(cli, analysed):
    """A write-protected copy could not be verified, its log not even listed ('.fs2f.lock:
    Read-only file system'). --read-only (taken by itself where the folder cannot be written)
    reads with no lock, no journal and no log event."""
    before = _every_file(analysed)
    verified = cli("audit", "verify", "C1", "--read-only", "--json")
    assert verified.code == 0, verified
    (entry,) = json.loads(verified.stdout)
    assert entry["ok"] and entry["verification_event_seq"] is None and "not logged" in verified.stderr
    assert cli("audit", "log", "C1", "--read-only").code == 0
    assert cli("case", "show", "C1", "--read-only").code == 0 and cli("case", "list", "--read-only").code == 0
    assert _every_file(analysed) == before  # byte for byte, and no file added
    _tamper(analysed, "UPDATE segment SET start_seconds = 0.0 WHERE id = 2")
    assert cli("audit", "verify", "C1", "--read-only").code == 1


def test_a_vault_file_replaced_by_a_link_is_found(cli, analysed, tmp_path):
    sha = json.loads(cli("case", "show", "C1", "--json").stdout)["evidence"][0]["sha256"]
    stored = analysed / "vault" / "sha256" / sha[:2] / sha[2:]
    outside = tmp_path / "outside.wav"
    outside.write_bytes(stored.read_bytes())  # the same bytes, for now
    stored.chmod(0o644)
    stored.unlink()
    stored.symlink_to(outside)
    _fails(cli, "evidence 1", "vault file is a link")


@pytest.mark.parametrize(("statement", "expected"), [
    ("UPDATE alembic_version SET version_num = '0001'", "do not match its recorded schema revision '0001'"),
    ("DELETE FROM alembic_version", "its schema revision record (alembic_version) is empty"),
])
def test_an_altered_schema_revision_is_refused_on_one_line(cli, analysed, statement, expected):
    with sqlite3.connect(analysed / "fs2f.db") as connection:
        connection.execute(statement)
    before = (analysed / "fs2f.db").read_bytes()
    result = cli("audit", "verify", "C1")
    assert result.code == 2 and expected in result.stderr and result.stderr.count("\n") == 1, result
    assert (analysed / "fs2f.db").read_bytes() == before


def test_a_killed_steps_rows_keep_what_they_started_with(cli, store_dir, tmp_path):
    """A run or activity left running (a kill) could be given an error or outputs with no trigger
    dropped and no finding."""
    assert cli("case", "add", "C1", write_tone(tmp_path / "e0.wav"), "-e", "Ann").code == 0
    store = CaseStore(store_dir)
    run = store.start_run("C1", "Ann", {}, [1])
    activity = store.start_activity("C1", "diarize", "Ann", {}, {}, [], run_id=run.id)
    store.close()
    with sqlite3.connect(store_dir / "fs2f.db") as connection:
        for statement in (f"UPDATE analysis_run SET error = 'evidence 2 was corrupt' WHERE id = {run.id}",
                          f"UPDATE activity SET outputs_json = '[{{\"speakers\": 3}}]' WHERE id = {activity.id}"):
            with pytest.raises(sqlite3.DatabaseError, match="change only when a running step ends"):
                connection.execute(statement)
    _tamper(store_dir, f"UPDATE analysis_run SET error = 'evidence 2 was corrupt' WHERE id = {run.id}",
            f"UPDATE activity SET outputs_json = '[{{\"speakers\": 3}}]' WHERE id = {activity.id}")
    _fails(cli, "error changed though no analysis-end event was logged",
           "outputs_json changed though no activity-end event was logged")


@pytest.mark.parametrize(("statement", "expected"), [
    ("UPDATE run_evidence SET speaker_count = 3", "speaker_count differs from the speakers stored"),
    ("UPDATE analysis_run SET parameters_json = replace(parameters_json, 'false', '0')", "parameters_json differs"),
])
def test_counts_and_json_types_are_compared_exactly(cli, store_dir, tmp_path, statement, expected):
    assert cli("case", "add", "C1", write_tone(tmp_path / "e0.wav", seconds=8.0), "-e", "Ann").code == 0
    store = CaseStore(store_dir)
    record_run(store, "C1", 1, duration=8.0, speakers=2, denoise=False)
    store.close()
    _tamper(store_dir, statement)
    _fails(cli, expected)


def test_a_trigger_of_the_right_name_that_guards_nothing_is_found(cli, analysed):
    with sqlite3.connect(analysed / "fs2f.db") as connection:
        connection.execute('DROP TRIGGER "case_no_update"')
        connection.execute('CREATE TRIGGER case_no_update AFTER INSERT ON segment BEGIN SELECT 1; END')
    _fails(cli, "protective triggers are missing or changed", "case_no_update")


def test_verify_all_names_rows_whose_case_row_is_gone(cli, analysed, tmp_path):
    assert cli("case", "add", "K2", write_tone(tmp_path / "k2.wav", frequency=640), "-e", "Ann").code == 0
    _tamper(analysed, "DELETE FROM \"case\" WHERE id = 'K2'")
    result = cli("audit", "verify", "--all")
    assert result.code == 1 and "FAIL K2: rows name this case, but its case row is missing" in result.stdout


@pytest.mark.parametrize("statement", [
    "UPDATE run_evidence SET evidence_id = 'x'",
    "UPDATE evidence SET original_filename = X'00ff' WHERE case_id = 'C1'",
    "UPDATE custody_event SET examiner = X'00ff' WHERE seq = 2 AND case_id = 'C1'",
])
def test_rows_altered_beyond_reading_fail_without_a_traceback(cli, analysed, tmp_path, statement):
    assert cli("case", "add", "C2", write_tone(tmp_path / "other.wav", frequency=900), "-e", "Bob").code == 0
    with sqlite3.connect(analysed / "fs2f.db") as connection:
        connection.execute("PRAGMA foreign_keys = OFF")
    _tamper(analysed, "PRAGMA foreign_keys = OFF", statement)
    result = cli("audit", "verify", "--all", "--json")
    assert result.code == 1 and "internal error" not in result.stderr, result
    report = {entry["case_id"]: entry["ok"] for entry in json.loads(result.stdout)}
    assert report == {"C1": False, "C2": True}


def test_a_time_that_rounds_to_minus_zero_is_stored_and_verified(cli, store_dir, tmp_path):
    from forensic_s2f.store.runs import EvidenceResult

    assert cli("case", "add", "C1", write_tone(tmp_path / "e0.wav"), "-e", "Ann").code == 0
    store = CaseStore(store_dir)
    run = store.start_run("C1", "Ann", {}, [1])
    store.record_result(run.id, "Ann", EvidenceResult(1, {}, [], [("SPEAKER_00", -0.0001, 1.0)], []))
    store.finish_run(run.id, "Ann", "completed")
    with pytest.raises(Exception, match="cannot be recorded"):
        store.record_result(run.id, "Ann", EvidenceResult(1, {}, [], [("SPEAKER_00", float("nan"), 1.0)], []))
    store.close()
    assert cli("audit", "verify", "C1").code == 0


def test_a_write_protected_store_with_pending_transactions_is_refused(store_dir, tmp_path, monkeypatch):
    """On read-only media SQLite cannot read a write-ahead log, and `immutable` read fs2f.db
    without it: an older state, verified as OK."""
    from forensic_s2f.errors import StoreError
    from forensic_s2f.store import db

    (tmp_path / "s").mkdir()
    database = tmp_path / "s" / "fs2f.db"
    database.write_bytes(b"")
    (tmp_path / "s" / "fs2f.db-wal").write_bytes(b"\x37\x7f\x06\x82" + bytes(28))
    assert "immutable=1" not in db._read_only_uri(database)  # (a folder that can be written: the log is read)
    monkeypatch.setattr(db.os, "access", lambda path, mode: False)
    with pytest.raises(StoreError, match="holds transactions that may not be in fs2f.db yet"):
        db._read_only_uri(database)
    (tmp_path / "s" / "fs2f.db-wal").write_bytes(b"")
    assert "immutable=1" in db._read_only_uri(database)


def test_option_text_that_is_not_utf8_is_refused(cli, store_dir, tmp_path):
    clip = write_tone(tmp_path / "e0.wav")
    for args in (("--note", "seized \udcff"), ("--source", "\udcfe"), ("-e", "Ann \udcff")):
        result = cli("case", "add", "C1", clip, *(["-e", "Ann"] if args[0] != "-e" else []), *args)
        assert result.code == 2 and "not UTF-8" in result.stderr and "internal error" not in result.stderr, result
    assert not (store_dir / "fs2f.db").exists()


def test_each_logging_command_gives_the_head_after_its_own_events(cli, analysed, tmp_path, monkeypatch):
    """The head a report pins and the head verify checked come before their own events: noted
    and given back with --expect-head, they passed with those events removed (an auditor's
    review). Each command that logs now ends with the head that covers its own events."""
    def head() -> str:
        return json.loads(cli("case", "show", "C1", "--json").stdout)["log_head"]

    exported = cli("case", "export", "C1", "--format", "json", "--output", tmp_path / "out", "-e", "Ann")
    assert exported.code == 0 and f"now ends at head {head()}:" in exported.stdout, exported.stdout
    verified = json.loads(cli("audit", "verify", "C1", "--json").stdout)[0]
    assert verified["log_head_after"] == head() != verified["verified_head"]
    monkeypatch.chdir(tmp_path)
    reported = json.loads(cli("case", "report", "C1", "-e", "Ann", "--json").stdout)
    assert reported["log_head_after"] == head() != reported["custody_log_head"]
    added = json.loads(cli("case", "add", "C1", write_tone(tmp_path / "e1.wav", frequency=700), "-e", "Ann",
                           "--json").stdout)
    assert added["log_head_after"] == head()


def test_a_vault_folder_replaced_by_a_link_is_found(cli, analysed, tmp_path):
    """A link in place of the file's folder (vault/sha256/<2 hex>) passed: only the file was checked."""
    sha = json.loads(cli("case", "show", "C1", "--json").stdout)["evidence"][0]["sha256"]
    folder = analysed / "vault" / "sha256" / sha[:2]
    outside = tmp_path / "outside"
    shutil.copytree(folder, outside)  # the same bytes, for now
    for path in folder.iterdir():
        path.chmod(0o644)
    shutil.rmtree(folder)
    folder.symlink_to(outside)
    _fails(cli, "evidence 1", "a folder of the vault file's path is a link")


def test_an_index_or_statistics_fs2f_does_not_create_are_found(cli, analysed):
    """A covering index of the attacker's, with ANALYZE's statistics to make queries prefer it, is
    what report queries could be made to read instead of the table."""
    with sqlite3.connect(analysed / "fs2f.db") as connection:
        connection.execute("CREATE INDEX ix_speaker_cover ON speaker (run_id, id, label, prediction_json)")
        connection.execute("ANALYZE")
    stdout = _fails(cli, "tables, indexes or views fs2f does not create are present", "ix_speaker_cover (index)",
                    "sqlite_stat1 (table)")
    assert "integrity check" not in stdout  # (the file itself is sound)
    assert cli("case", "report", "C1").code != 0


def _point_index_at(connection: sqlite3.Connection, index: str, table: str, rows: str) -> None:
    """Give `index` (on `table`'s run_id) a b-tree built from `rows` (a SELECT of rowid, run_id),
    by rewriting its root page in sqlite_master: the index then answers queries with entries its
    table does not hold, while its name and SQL stay as the migrations made them."""
    connection.execute("CREATE TABLE forged (run_id INTEGER)")
    connection.execute(f"INSERT INTO forged (rowid, run_id) {rows}")
    connection.execute("CREATE INDEX forged_ix ON forged (run_id)")
    page = connection.execute("SELECT rootpage FROM sqlite_master WHERE name = 'forged_ix'").fetchone()[0]
    connection.execute("PRAGMA writable_schema = ON")
    connection.execute(f"UPDATE sqlite_master SET rootpage = {page} WHERE name = '{index}' AND tbl_name = '{table}'")
    connection.execute("DELETE FROM sqlite_master WHERE name IN ('forged', 'forged_ix')")
    connection.execute("PRAGMA writable_schema = OFF")


def test_an_index_forged_to_hide_rows_fails_the_integrity_check(cli, analysed, tmp_path):
    """The segment index made to lack segment 2: every query by run reads the index, so the
    segment is gone from what is read, and only SQLite's own check of the file sees why."""
    with sqlite3.connect(analysed / "fs2f.db") as connection:
        _point_index_at(connection, "ix_segment_run_id", "segment", "SELECT id, run_id FROM segment WHERE id != 2")
    with sqlite3.connect(analysed / "fs2f.db") as connection:
        assert 2 not in [row[0] for row in connection.execute("SELECT id FROM segment WHERE run_id = 1")]
    _fails(cli, "store database", "SQLite's integrity check fails", "ix_segment_run_id")
    assert cli("case", "report", "C1").code != 0
    exported = cli("case", "export", "C1", "--format", "rttm", "--output", tmp_path / "out", "-e", "Ann")
    assert exported.code != 0 and "fails verification" in exported.stderr, exported
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_rollback_journal_beside_the_database_is_refused_and_left_alone(cli, analysed):
    """fs2f stores keep a write-ahead log, never a rollback journal. A hand-made hot journal beside
    an honest fs2f.db passed a read-only verification (`immutable` ignores it), and the next
    command that wrote rolled the database back to the state the journal held."""
    journal = analysed / "fs2f.db-journal"
    journal.write_bytes(bytes.fromhex("d9d505f920a163d7") + bytes(504))  # (a journal header's magic)
    database = (analysed / "fs2f.db").read_bytes()
    for args in (("audit", "verify", "C1", "--read-only"), ("audit", "verify", "C1"), ("case", "show", "C1"),
                 ("case", "list"), ("case", "analyze", "C1", "-e", "Ann")):
        result = cli(*args)
        assert result.code != 0 and "fs2f.db-journal: a rollback journal" in result.stderr, (args, result)
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert (analysed / "fs2f.db").read_bytes() == database and journal.stat().st_size == 512
    journal.unlink()
    assert cli("audit", "verify", "C1", "--read-only").code == 0


def test_a_database_that_is_a_link_is_refused(cli, analysed, tmp_path):
    """SQLite keeps the write-ahead log beside the file a link points to, where the read-only
    check (which looked beside the link) did not see a pending log."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (analysed / "fs2f.db").rename(elsewhere / "fs2f.db")
    (analysed / "fs2f.db").symlink_to(elsewhere / "fs2f.db")
    before = (elsewhere / "fs2f.db").read_bytes()
    for args in (("audit", "verify", "C1", "--read-only"), ("audit", "verify", "C1"), ("case", "list")):
        result = cli(*args)
        assert result.code != 0 and "fs2f.db: a symbolic link" in result.stderr, (args, result)
        assert "Traceback" not in result.stderr
    assert (elsewhere / "fs2f.db").read_bytes() == before
    assert sorted(path.name for path in elsewhere.iterdir()) == ["fs2f.db"]


def test_a_database_that_is_a_link_leading_nowhere_is_refused(cli, store_dir, tmp_path):
    """`case list` took a store whose fs2f.db is a link to a missing file for an empty store
    (status 0, no cases); every command refuses it, as it refuses any link there."""
    store_dir.mkdir(parents=True, exist_ok=True)
    (store_dir / "fs2f.db").symlink_to(tmp_path / "moved" / "fs2f.db")
    for args in (("case", "list"), ("case", "list", "--json"), ("case", "show", "C1"), ("audit", "verify", "C1")):
        result = cli(*args)
        assert result.code == 2 and "fs2f.db: a symbolic link" in result.stderr, (args, result)
        assert result.stderr.count("\n") == 1 and result.stdout == "", (args, result)
    assert sorted(path.name for path in store_dir.iterdir()) == ["fs2f.db"] and not (tmp_path / "moved").exists()
