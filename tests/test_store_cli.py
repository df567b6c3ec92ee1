"""`fs2f case add/list/show` and `fs2f audit log` as a user runs them."""

from __future__ import annotations

import csv
import io
import json
import os
import stat

import pytest

from conftest import store_snapshot, write_tone


def test_add_show_list_roundtrip(cli, store_dir, tmp_path):
    a = write_tone(tmp_path / "call one.wav", frequency=200)
    b = write_tone(tmp_path / "call-two.flac", frequency=300, fmt="FLAC")
    result = cli("case", "add", "CASE-1", a, b, "--examiner", "Ann Alyst", "--source", "exhibit 7",
                 "--note", "seized phone", "--title", "Test case", "--json")
    assert result.code == 0, result
    added = json.loads(result.stdout)
    assert added["case_created"] is True
    assert [e["original_filename"] for e in added["added"]] == ["call one.wav", "call-two.flac"]
    flac = added["added"][1]
    assert flac["media_type"] == "audio/flac" and flac["codec"] == "flac"
    assert flac["sample_rate_hz"] == 16000 and flac["channels"] == 1
    assert flac["duration_seconds"] == pytest.approx(2.0)
    assert flac["source"] == "exhibit 7" and flac["note"] == "seized phone" and flac["examiner"] == "Ann Alyst"

    shown = json.loads(cli("case", "show", "CASE-1", "--json").stdout)
    assert shown["title"] == "Test case"
    assert {e["sha256"] for e in shown["evidence"]} == {e["sha256"] for e in added["added"]}
    assert shown["custody_events"] == 3

    listed = json.loads(cli("case", "list", "--json").stdout)
    assert [(c["case_id"], c["evidence"]) for c in listed] == [("CASE-1", 2)]
    assert listed[0]["log_head"] == shown["log_head"]

    table = cli("case", "show", "CASE-1")
    assert table.code == 0 and "call one.wav" in table.stdout


def test_vault_copy_is_content_addressed_and_read_only(cli, store_dir, tone):
    result = cli("case", "add", "C1", tone, "-e", "Ann", "--json")
    sha = json.loads(result.stdout)["added"][0]["sha256"]
    copy = store_dir / "vault" / "sha256" / sha[:2] / sha[2:]
    assert copy.read_bytes() == tone.read_bytes()
    assert not copy.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)


def test_reingest_is_reported_not_duplicated(cli, store_dir, tone, tmp_path):
    cli("case", "add", "C1", tone, "-e", "Ann")
    renamed = tmp_path / "same-bytes.wav"
    renamed.write_bytes(tone.read_bytes())
    before = store_snapshot(store_dir)
    evidence = json.loads(cli("case", "show", "C1", "--json").stdout)["evidence"]
    result = cli("case", "add", "C1", renamed, "-e", "Bob", "--source", "second seizure")
    assert result.code == 0
    assert "already in case C1 as evidence 1" in result.stdout
    # nothing stored twice; the receipt itself is a custody fact, logged, and shown with the evidence
    shown = json.loads(cli("case", "show", "C1", "--json").stdout)["evidence"]
    (receipt,) = shown[0].pop("received_again")
    assert evidence[0].pop("received_again") == [] and shown == evidence
    assert (receipt["original_filename"], receipt["source"], receipt["examiner"]) == ("same-bytes.wav", "second seizure", "Bob")
    assert "evidence 1 received again: " in " ".join(cli("case", "show", "C1").stdout.split())
    assert "by Bob: the same bytes as same-bytes.wav" in " ".join(cli("case", "show", "C1").stdout.split())
    after = store_snapshot(store_dir)
    assert {k: v for k, v in after.items() if k != "<database>"} == {k: v for k, v in before.items() if k != "<database>"}
    last = json.loads(cli("audit", "log", "C1", "--json").stdout)[-1]
    assert (last["action"], last["object_id"], last["examiner"]) == ("intake-repeat", "1", "Bob")
    assert last["details"]["original_filename"] == "same-bytes.wav" and last["details"]["source"] == "second seizure"
    assert cli("audit", "verify", "C1").code == 0
    # the same bytes may be evidence in another case; the vault keeps one object
    assert cli("case", "add", "C2", renamed, "-e", "Bob").code == 0
    objects = [p for p in (store_dir / "vault" / "sha256").rglob("*") if p.is_file()]
    assert len(objects) == 1


def test_examiner_from_environment_and_required(cli, store_dir, tone, monkeypatch):
    result = cli("case", "add", "C1", tone)
    assert result.code != 0 and "examiner" in result.stderr
    assert not store_dir.exists()
    monkeypatch.setenv("FS2F_EXAMINER", "Env Examiner")
    result = cli("case", "add", "C1", tone, "--json")
    assert result.code == 0
    assert json.loads(result.stdout)["added"][0]["examiner"] == "Env Examiner"


def test_real_recording_from_shared_data(cli, store_dir, shared_data):
    clip = sorted((shared_data / "s2f-pairs" / "audio").glob("*.flac"))[0]
    result = cli("case", "add", "REAL", clip, "-e", "Ann", "--json")
    assert result.code == 0, result
    evidence = json.loads(result.stdout)["added"][0]
    assert evidence["duration_seconds"] == pytest.approx(6.0, abs=0.01)
    assert cli("audit", "verify", "REAL").code == 0


def test_audit_log_formats(cli, store_dir, tone):
    cli("case", "add", "C1", tone, "-e", "Ann")
    as_json = json.loads(cli("audit", "log", "C1", "--format", "json").stdout)
    assert [e["action"] for e in as_json] == ["case-open", "intake"]
    assert as_json[1]["prev_hash"] == as_json[0]["entry_hash"]
    rows = list(csv.DictReader(io.StringIO(cli("audit", "log", "C1", "--format", "csv").stdout)))
    assert [r["entry_hash"] for r in rows] == [e["entry_hash"] for e in as_json]
    assert json.loads(rows[1]["details"])["original_filename"] == "tone.wav"
    table = cli("audit", "log", "C1")
    assert table.code == 0 and "intake" in table.stdout
    assert json.loads(cli("audit", "log", "C1", "--json").stdout) == as_json
    bad = cli("audit", "log", "C1", "--format", "xml")
    assert bad.code != 0 and "unknown format" in bad.stderr


def test_list_on_empty_store_and_unknown_case(cli, store_dir):
    assert json.loads(cli("case", "list", "--json").stdout) == []
    assert not store_dir.exists()
    result = cli("case", "show", "NOPE")
    assert result.code != 0 and result.stderr.count("\n") == 1 and "no case store" in result.stderr


def test_entry_point_prints_one_line_without_traceback(tmp_path):
    import subprocess
    import sys

    env = {**os.environ, "FS2F_HOME": str(tmp_path / "store"), "FS2F_EXAMINER": "Ann"}
    missing = tmp_path / "missing.wav"
    proc = subprocess.run([sys.executable, "-m", "forensic_s2f.cli", "case", "add", "C1", str(missing)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode != 0
    assert proc.stderr.strip() == f"error: {missing}: no such file"
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not (tmp_path / "store").exists()


def test_a_file_named_twice_or_through_a_link_is_recorded_as_given(cli, store_dir, tone, tmp_path):
    """The same file twice on one command line was logged as two receipts; a file ingested
    through a symbolic link was recorded under the link's name but the target's path."""
    before = store_snapshot(store_dir)
    twice = cli("case", "add", "C1", tone, tone, "-e", "Ann")
    assert twice.code == 2 and "named twice on the command line" in twice.stderr
    link = tmp_path / "EXHIBIT-7.wav"
    link.symlink_to(tone)
    assert cli("case", "add", "C1", tone, link, "-e", "Ann").code == 2  # (the same file through a link)
    assert store_snapshot(store_dir) == before
    assert cli("case", "add", "C1", link, "-e", "Ann").code == 0
    (shown,) = json.loads(cli("case", "show", "C1", "--json").stdout)["evidence"]
    assert (shown["original_filename"], shown["original_path"]) == ("EXHIBIT-7.wav", str(link))
    assert shown["resolved_path"] == str(tone.resolve())  # (it was only in the raw custody log)
    assert f"the path given led to {tone.resolve()}" in " ".join(cli("case", "show", "C1").stdout.split())
    intake = json.loads(cli("audit", "log", "C1", "--json").stdout)[-1]
    assert intake["details"]["resolved_path"] == str(tone.resolve())
    assert cli("audit", "verify", "C1").code == 0


def test_audit_log_refuses_two_formats_at_once(cli, store_dir, tone):
    cli("case", "add", "C1", tone, "-e", "Ann")
    both = cli("audit", "log", "C1", "--json", "--format", "csv")
    assert both.code == 2 and "ask for two formats" in both.stderr  # (it printed JSON unsaid)
