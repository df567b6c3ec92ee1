"""Analysis runs in the store: recorded once, read back unchanged, logged, append-only."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
import sqlite3

import pytest

from conftest import write_tone
from forensic_s2f.errors import StoreError
from forensic_s2f.store.case_store import CaseStore
from forensic_s2f.store.runs import EvidenceResult, SpeakerResult

def _run():
    from forensic_s2f.exports import ExportedRun

    return ExportedRun("C1", 1, "completed", "Ann", "2026-01-01T00:00:00.000000Z", "2026-01-01T00:01:00.000000Z")


def test_run_roundtrip_and_custody(cli, store_dir, tmp_path):
    assert cli("case", "add", "C1", write_tone(tmp_path / "a.wav"), "-e", "Ann").code == 0
    store = CaseStore(store_dir)
    with pytest.raises(StoreError, match="no completed analysis"):
        store.run("C1")
    run = store.start_run("C1", "Ann", {"denoise": True}, [1])
    result = EvidenceResult(
        evidence_id=1, quality={"snr_db": 21.5}, warnings=["low SNR"],
        segments=[("SPEAKER_00", 0.5, 1.25), ("SPEAKER_01", 1.0, 1.9)],
        speakers=[SpeakerResult("SPEAKER_00", 0.75, 1, {"gender": {"female": 0.9, "male": 0.1}}, {}, [], {"face": 3}),
                  SpeakerResult("SPEAKER_01", 0.9, 1, {}, {}, ["too little speech"], {})],
    )
    store.record_result(run.id, "Ann", result)
    store.finish_run(run.id, "Ann", "completed")
    assert store.run("C1").id == run.id and store.run("C1").status == "completed"
    assert store.run_results(run.id) == [result]
    actions = [e.action for e in store.custody_log("C1")]
    assert actions[-3:] == ["analysis-start", "analysis-result", "analysis-end"]
    with pytest.raises(StoreError, match="no analysis run 99"):
        store.run("C1", 99)
    store.close()
    with sqlite3.connect(store_dir / "fs2f.db") as connection:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            connection.execute("UPDATE speaker SET label = 'x'")
    assert cli("audit", "verify", "C1").code == 0


def test_rttm_export_names_files_by_stem_without_whitespace():
    from forensic_s2f.exports import export_files
    from forensic_s2f.store.models import Evidence

    evidence = [Evidence(id=1, original_filename="call one\n.wav"), Evidence(id=2, original_filename="x.flac"),
                Evidence(id=3, original_filename="x.wav")]
    results = [EvidenceResult(i, {}, [], [("SPEAKER_00", 0.5, 1.75)], []) for i in (1, 2, 3)]
    files = export_files("rttm", evidence, results, _run())
    assert sorted(files) == ["call_one_.rttm", "rttm-index.csv", "x-E2.rttm", "x-E3.rttm"]
    assert files["call_one_.rttm"].decode() == "SPEAKER call_one_ 1 0.500 1.250 <NA> <NA> SPEAKER_00 <NA> <NA>\n"


def test_rttm_export_gives_every_evidence_its_own_file_when_a_real_name_looks_like_a_made_up_one():
    """x.wav and x.flac become x-E1 and x-E2; a file really named x-E1.wav must neither take
    evidence 1's name nor push evidence 1 to another (it had: x-E1.rttm held evidence 3, and
    evidence 1 was in x-E1-3.rttm). A name ending in -E<n> is evidence n's, and an index says
    what each file describes."""
    import csv
    import io

    from forensic_s2f.exports import export_files
    from forensic_s2f.store.models import Evidence

    evidence = [Evidence(id=1, original_filename="x.wav", sha256="1" * 64, original_path="/a/x.wav"),
                Evidence(id=2, original_filename="x.flac", sha256="2" * 64, original_path="/a/x.flac"),
                Evidence(id=3, original_filename="x-E1.wav", sha256="3" * 64, original_path="/b/x-E1.wav"),
                Evidence(id=4, original_filename="x-E1-2.wav", sha256="4" * 64, original_path="/b/x-E1-2.wav")]
    results = [EvidenceResult(i, {}, [], [("SPEAKER_00", float(i), i + 0.5)], []) for i in (1, 2, 3, 4)]
    files = export_files("rttm", evidence, results, _run())
    owners = {name: text.decode().split()[3] for name, text in files.items() if name.endswith(".rttm")}
    assert owners == {"x-E1.rttm": "1.000", "x-E2.rttm": "2.000", "x-E1-E3.rttm": "3.000", "x-E1-2.rttm": "4.000"}
    index = list(csv.DictReader(io.StringIO(files["rttm-index.csv"].decode())))
    assert [(row["rttm"], row["evidence_id"], row["file"], row["sha256"][0], row["run_id"]) for row in index] == [
        ("x-E1.rttm", "1", "x.wav", "1", "1"), ("x-E2.rttm", "2", "x.flac", "2", "1"),
        ("x-E1-E3.rttm", "3", "x-E1.wav", "3", "1"), ("x-E1-2.rttm", "4", "x-E1-2.wav", "4", "1")]


def test_rttm_names_that_only_look_alike_are_told_apart():
    """`y‐E3.wav` (a Unicode hyphen) read as evidence 3's file; `café` composed and decomposed, and
    `X.wav` beside `x.flac` (one file on a case-insensitive disk), gave names that look the same."""
    from forensic_s2f.exports import export_files
    from forensic_s2f.store.models import Evidence

    names = ["y\u2010E3.wav", "caf\u00e9.wav", "cafe\u0301.wav", "X.wav", "x.flac", "z－Ｅ３.wav", "plain.wav"]
    evidence = [Evidence(id=i, original_filename=name) for i, name in enumerate(names, 10)]
    files = export_files("rttm", evidence, [EvidenceResult(i, {}, [], [], []) for i in range(10, 17)], _run())
    assert sorted(name for name in files if name.endswith(".rttm")) == sorted([
        "y\u2010E3-E10.rttm", "caf\u00e9-E11.rttm", "cafe\u0301-E12.rttm", "X-E13.rttm", "x-E14.rttm",
        "z－Ｅ３-E15.rttm", "plain.rttm"])


def test_rttm_names_of_very_long_file_names_fit_the_file_system():
    """A 255-byte evidence name made the RTTM export fail for good (File name too long)."""
    from forensic_s2f.exports import export_files
    from forensic_s2f.store.models import Evidence

    long_names = ["é" * 125 + "a.wav", "é" * 125 + "b.wav", "é" * 125 + "a.flac"]
    evidence = [Evidence(id=i, original_filename=name) for i, name in enumerate(long_names, 1)]
    files = export_files("rttm", evidence, [EvidenceResult(i, {}, [], [], []) for i in (1, 2, 3)], _run())
    assert len(files) == 4 and all(len(name.encode()) <= 255 for name in files)
    assert sorted(files) == sorted(["é" * 100 + "-E1.rttm", "é" * 100 + "-E2.rttm", "é" * 100 + "-E3.rttm", "rttm-index.csv"])


def test_csv_export_of_a_run_without_speakers_keeps_its_header():
    from forensic_s2f.exports import SPEAKER_COLUMNS, export_files
    from forensic_s2f.store.models import Evidence

    files = export_files("csv", [Evidence(id=1, original_filename="silence.wav")],
                         [EvidenceResult(1, {}, ["no speech found"], [], [])], _run())
    assert files["speakers.csv"].decode().splitlines() == [",".join(SPEAKER_COLUMNS)]
    assert files["segments.csv"].decode().splitlines()[0].startswith("run_id,evidence_id,file,speaker")


def test_csv_and_json_exports_name_every_recording_and_the_run_settings():
    """A recording without speech was in no CSV file (an analysed recording read as one never
    analysed), its warnings nowhere in CSV; no export said which options made the run."""
    import csv
    import io
    import json

    from forensic_s2f.exports import ExportedRun, export_files
    from forensic_s2f.store.models import Evidence

    evidence = [Evidence(id=1, original_filename="silence.wav", sha256="a" * 64),
                Evidence(id=2, original_filename="talk.wav", sha256="b" * 64)]
    results = [EvidenceResult(1, {"duration_seconds": 9.0, "speech_seconds": 0.0}, ["no speech found"], [], []),
               EvidenceResult(2, {"duration_seconds": 5.0, "snr_db": 21.5}, [], [("SPEAKER_00", 0.5, 4.0)], [])]
    run = ExportedRun("C1", 3, "completed", "Ann", "2026-01-01T00:00:00.000000Z", "2026-01-01T00:01:00.000000Z",
                      {"options": {"num_speakers": 2, "denoise": False}, "model": {"name": "m", "sha256": "c" * 64}},
                      "d" * 64)
    files = export_files("csv", evidence, results, run)
    recordings = list(csv.DictReader(io.StringIO(files["recordings.csv"].decode())))
    assert [(r["file"], r["speakers"], r["warnings"]) for r in recordings] == [
        ("silence.wav", "0", "no speech found"), ("talk.wav", "0", "")]
    assert recordings[0]["sha256"] == "a" * 64 and recordings[1]["snr_db"] == "21.5"
    (settings,) = csv.DictReader(io.StringIO(files["run.csv"].decode()))
    assert (settings["case_id"], settings["run_id"], settings["num_speakers"], settings["denoise"]) == ("C1", "3", "2", "False")
    assert settings["model_sha256"] == "c" * 64 and settings["custody_log_head"] == "d" * 64
    assert json.loads(settings["parameters_json"]) == run.parameters
    document = json.loads(export_files("json", evidence, results, run)["analysis.json"])
    assert document["run"]["parameters"]["options"]["num_speakers"] == 2
    assert [e["file"] for e in document["evidence"]] == ["silence.wav", "talk.wav"]


def test_csv_export_keeps_spreadsheets_from_running_a_file_name_as_a_formula():
    """A file named '=HYPERLINK(…).wav' was a formula cell in both CSV files (CSV injection): a
    spreadsheet would run it when the examiner opened the export. The JSON export keeps the name."""
    import csv
    import io
    import json

    from forensic_s2f.exports import export_files
    from forensic_s2f.store.models import Evidence

    names = ['=HYPERLINK("http://x","y").wav', "+1.wav", "-take 2.wav", "@a.wav", "\tb.wav", "plain=ok.wav"]
    evidence = [Evidence(id=i, original_filename=name) for i, name in enumerate(names, 1)]
    results = [EvidenceResult(i, {}, [], [("SPEAKER_00", 0.5, 1.75)], []) for i in range(1, len(names) + 1)]
    files = export_files("csv", evidence, results, _run())
    cells = [row["file"] for row in csv.DictReader(io.StringIO(files["segments.csv"].decode()))]
    assert cells == [f"'{name}" for name in names[:-1]] + ["plain=ok.wav"]
    document = json.loads(export_files("json", evidence, results, _run())["analysis.json"])
    assert [row["file"] for row in document["segments"]] == names


@pytest.mark.parametrize("status", ["failed", None])
def test_export_and_report_refuse_a_run_that_did_not_complete(cli, store_dir, tmp_path, status):
    """An interrupted (still 'running') or failed run has partial results: exporting it as if
    it were complete would read as 'no speech found'."""
    from conftest import store_snapshot

    assert cli("case", "add", "C1", write_tone(tmp_path / "a.wav"), "-e", "Ann").code == 0
    store = CaseStore(store_dir)
    run = store.start_run("C1", "Ann", {}, [1])
    if status:
        store.finish_run(run.id, "Ann", status, "RuntimeError: stopped")
    store.close()
    before = store_snapshot(store_dir)
    for command in (("export", "--format", "json", "--output", tmp_path / "out"),
                    ("export", "--format", "rttm", "--output", tmp_path / "out"),
                    ("report", "--output", tmp_path / "r.pdf")):
        result = cli("case", command[0], "C1", "--run", str(run.id), *command[1:], "-e", "Ann")
        assert result.code == 2 and result.stderr.count("\n") == 1, result
        assert f"run {run.id} of case 'C1' is {status or 'running'}, not completed" in result.stderr
    assert store_snapshot(store_dir) == before and not (tmp_path / "out").exists()


def test_export_refuses_a_folder_holding_a_link_of_the_same_name(cli, store_dir, tmp_path):
    """A dangling link where analysis.json would go is an existing name: refused on one line,
    nothing written through it, no export logged."""
    assert cli("case", "add", "C1", write_tone(tmp_path / "a.wav"), "-e", "Ann").code == 0
    store = CaseStore(store_dir)
    run = store.start_run("C1", "Ann", {}, [1])
    store.record_result(run.id, "Ann", EvidenceResult(1, {}, [], [("SPEAKER_00", 0.0, 1.0)], []))
    store.finish_run(run.id, "Ann", "completed")
    events = len(store.custody_log("C1"))
    store.close()
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "analysis.json").symlink_to(tmp_path / "elsewhere.json")
    result = cli("case", "export", "C1", "--format", "json", "--output", folder, "-e", "Ann")
    assert result.code == 2 and result.stderr == f"error: {folder / 'analysis.json'}: already exists; choose another --output folder\n"
    assert not (tmp_path / "elsewhere.json").exists()
    store = CaseStore(store_dir)
    assert len(store.custody_log("C1")) == events
    store.close()


def test_case_show_gives_each_completed_run_its_recording_level_quality_and_warnings(cli, store_dir, tmp_path):
    """Recording warnings (low SNR, narrow band) were only in the report and the exports."""
    import json

    assert cli("case", "add", "C1", write_tone(tmp_path / "a.wav"), "-e", "Ann").code == 0
    store = CaseStore(store_dir)
    run = store.start_run("C1", "Ann", {}, [1])
    store.record_result(run.id, "Ann", EvidenceResult(1, {"snr_db": 7.0}, ["low signal-to-noise ratio: estimated 7.0 dB"], [],
                                                     [SpeakerResult("SPEAKER_00", 2.0, 1, {"gender": {"female": 0.9977, "male": 0.0023}}, {}, [], {})]))
    store.finish_run(run.id, "Ann", "completed")
    store.close()
    shown = json.loads(cli("case", "show", "C1", "--json").stdout)["runs"][0]
    assert shown["evidence"] == [{"evidence_id": 1, "file": "a.wav", "sha256": hashlib.sha256((tmp_path / "a.wav").read_bytes()).hexdigest(),
                                  "quality": {"snr_db": 7.0}, "warnings": ["low signal-to-noise ratio: estimated 7.0 dB"]}]
    table = cli("case", "show", "C1").stdout
    assert "run 1, evidence 1: warning: low signal-to-noise ratio: estimated 7.0 dB" in table
    assert "female (99.7%)" in table  # (not rounded up to a certainty: 100%)


def test_case_show_gives_the_age_estimate_as_its_range_beside_the_most_probable_bracket(cli, store_dir, tmp_path):
    """The estimate is the bracket most likely to be right or one off: it may itself be improbable,
    so it is shown as the range it stands for, then the most probable single bracket."""
    assert cli("case", "add", "C1", write_tone(tmp_path / "a.wav"), "-e", "Ann").code == 0
    store = CaseStore(store_dir)
    run = store.start_run("C1", "Ann", {}, [1])
    age = {"<18": 0.01, "18-29": 0.05, "30-44": 0.79, "45-59": 0.06, "60+": 0.09}
    prediction = {"gender": {"female": 0.2, "male": 0.8}, "age": age, "age_estimate": "45-59", "age_estimate_within_one": 0.94}
    store.record_result(run.id, "Ann", EvidenceResult(1, {}, [], [], [SpeakerResult("SPEAKER_00", 2.0, 1, prediction, {}, [], {})]))
    store.finish_run(run.id, "Ann", "completed")
    store.close()
    shown = " ".join(cli("case", "show", "C1").stdout.split())
    assert "30-44 to 60+ (94%); most probable 30-44 (79%)" in shown  # (it read '45-59 (±1 bracket: 94%; itself 6%)')


def test_an_export_that_cannot_be_logged_leaves_no_files(cli, store_dir, tmp_path, monkeypatch):
    """Files written but never logged as exported would be outputs with no custody record."""
    assert cli("case", "add", "C1", write_tone(tmp_path / "a.wav"), "-e", "Ann").code == 0
    store = CaseStore(store_dir)
    run = store.start_run("C1", "Ann", {}, [1])
    store.record_result(run.id, "Ann", EvidenceResult(1, {}, [], [("SPEAKER_00", 0.0, 1.0)], []))
    store.finish_run(run.id, "Ann", "completed")
    store.close()

    def locked(*args, **kwargs):
        raise StoreError("the case store is locked")

    monkeypatch.setattr(CaseStore, "record_event", locked)
    result = cli("case", "export", "C1", "--format", "csv", "--output", tmp_path / "out", "-e", "Ann")
    assert result.code == 2 and result.stderr == "error: the case store is locked\n"
    assert list((tmp_path / "out").iterdir()) == []


def test_case_show_names_each_runs_options(cli, store_dir, tmp_path):
    """Five runs with different speaker counts were listed alike: nothing told them apart. The
    options are worded as in the report: a minimum equal to the maximum is a fixed count (it read
    'automatic, 2 to 2' where the report said 'fixed at 2')."""
    from report_fixtures import record_run

    assert cli("case", "add", "C1", write_tone(tmp_path / "e.wav", seconds=6.0), "-e", "Ann").code == 0
    store = CaseStore(store_dir)
    record_run(store, "C1", 1, duration=6.0, speakers=2, denoise=False)
    store.start_run("C1", "Ann", {"options": {"num_speakers": 5, "denoise": True}}, [1])
    store.start_run("C1", "Ann", {"options": {"min_speakers": 3, "max_speakers": None, "denoise": True}}, [1])
    store.start_run("C1", "Ann", {"options": {"min_speakers": 2, "max_speakers": 2, "denoise": True}}, [1])
    store.close()
    shown = cli("case", "show", "C1", "--json")
    assert shown.code == 0
    runs = json.loads(shown.stdout)["runs"]
    assert [r["parameters"]["options"].get("num_speakers") for r in runs] == [None, 5, None, None]
    import forensic_s2f.cli as cli_module

    assert [cli_module._options_text(json.dumps(r["parameters"])) for r in runs] == [
        "speakers: automatic, denoise: off", "speakers: fixed at 5, denoise: on",
        "speakers: automatic, limited to at least 3, denoise: on", "speakers: fixed at 2, denoise: on"]
    shown = cli("case", "show", "C1")
    assert shown.code == 0 and "fixed at 2" in " ".join(shown.stdout.split()), shown.stdout


def test_a_run_s_stored_files_are_exported_only_as_recorded(cli, store_dir, tmp_path, monkeypatch):
    """`case export --format files` copies out what a run kept in the vault, each file checked
    against its recorded SHA-256: one altered vault file and nothing is exported."""
    import csv
    import os
    import stat

    from report_fixtures import make_case

    make_case(cli, store_dir, tmp_path, "K1", speakers=2)
    done = cli("case", "export", "K1", "--format", "files", "--output", tmp_path / "kept", "-e", "Ann")
    assert done.code == 0, done
    index = list(csv.DictReader((tmp_path / "kept" / "files-index.csv").open()))
    assert sorted(row["file"] for row in index) == sorted(
        f"E1-SPEAKER_0{i}-{kind}" for i in (0, 1) for kind in ("face.png", "uncertainty.png", "members.png", "prediction.json"))
    assert {row["activity"] for row in index} == {"speech2face"}
    store = CaseStore(store_dir)
    face = next(a for a in store.artifacts("K1") if a.kind == "face")
    path = store.artifact_path(face)
    store.close()
    verify = CaseStore.require_verified

    def verified_then_altered(self, case_id):  # (a change after the export's verification)
        verify(self, case_id)
        os.chmod(path, stat.S_IWUSR | stat.S_IRUSR)
        path.write_bytes(path.read_bytes() + b"x")

    monkeypatch.setattr(CaseStore, "require_verified", verified_then_altered)
    refused = cli("case", "export", "K1", "--format", "files", "--output", tmp_path / "again", "-e", "Ann")
    assert refused.code == 2 and "no longer matches its recorded SHA-256; nothing was exported" in refused.stderr
    assert not any((tmp_path / "again").iterdir())
    monkeypatch.setattr(CaseStore, "require_verified", verify)
    refused = cli("case", "export", "K1", "--format", "files", "--output", tmp_path / "third", "-e", "Ann")
    assert refused.code == 2 and "fails verification" in refused.stderr and not (tmp_path / "third").exists()


def _completed_run_with_one_segment(cli, store_dir, tmp_path) -> None:
    assert cli("case", "add", "C1", write_tone(tmp_path / "a.wav"), "-e", "Ann").code == 0
    store = CaseStore(store_dir)
    run = store.start_run("C1", "Ann", {}, [1])
    store.record_result(run.id, "Ann", EvidenceResult(1, {}, [], [("SPEAKER_00", 0.0, 1.0)], []))
    store.finish_run(run.id, "Ann", "completed")
    store.close()


def test_an_export_s_files_take_their_names_only_once_it_is_logged(cli, store_dir, tmp_path, monkeypatch):
    """A kill while an export was copied or logged left files under their final names that no
    custody event names, and a rerun into the folder was refused. Until the export is logged its
    files are written under hidden partial names only."""
    _completed_run_with_one_segment(cli, store_dir, tmp_path)
    seen = []
    record = CaseStore.record_event

    def watched(self, *args, **kwargs):
        seen.append(sorted(p.name for p in (tmp_path / "out").iterdir()))
        return record(self, *args, **kwargs)

    monkeypatch.setattr(CaseStore, "record_event", watched)
    assert cli("case", "export", "C1", "--format", "csv", "--output", tmp_path / "out", "-e", "Ann").code == 0
    assert len(seen) == 1 and len(seen[0]) == 4 and all(name.startswith(".") and ".partial-" in name for name in seen[0])
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["recordings.csv", "run.csv", "segments.csv", "speakers.csv"]


def _case_with_a_run_for_subprocesses(store_dir, tmp_path) -> tuple[dict, list]:
    """Case C1 with a completed run of one segment, added by an `fs2f` process; the environment
    and the command line that run fs2f in another process on this store."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "FS2F_HOME": str(store_dir)}
    command = [sys.executable, "-m", "forensic_s2f.cli"]
    assert subprocess.run([*command, "case", "add", "C1", write_tone(tmp_path / "a.wav"), "-e", "Ann"], env=env,
                          capture_output=True, timeout=120).returncode == 0
    store = CaseStore(store_dir)
    run = store.start_run("C1", "Ann", {}, [1])
    store.record_result(run.id, "Ann", EvidenceResult(1, {}, [], [("SPEAKER_00", 0.0, 1.0)], []))
    store.finish_run(run.id, "Ann", "completed")
    store.close()
    return env, command


def _export_in_a_process(env: dict, fmt: str, output: Path, patch: str):
    """`fs2f case export C1` in another process, after `patch` (Python, with os and signal
    imported) has changed what it runs; the finished process."""
    import subprocess
    import sys

    script = (f"import os, signal\n{patch}from forensic_s2f.cli import main\n"
              f"main(['case', 'export', 'C1', '--format', {fmt!r}, '--output', {str(output)!r}, '-e', 'Ann'])\n")
    return subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, timeout=120)


def test_an_export_killed_before_it_was_logged_leaves_no_named_file_and_can_be_rerun(store_dir, tmp_path):
    """SIGKILL of the process at the moment the export is logged (its files all written): the
    folder holds no file under an export's name, the store verifies, and the rerun into the same
    folder completes and removes the partial files the killed process left."""
    import subprocess

    env, command = _case_with_a_run_for_subprocesses(store_dir, tmp_path)
    store = CaseStore(store_dir)
    events = len(store.custody_log("C1"))
    store.close()
    killed = _export_in_a_process(env, "json", tmp_path / "out", (
        "from forensic_s2f.store.case_store import CaseStore\n"
        "CaseStore.record_event = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)\n"))
    assert killed.returncode == -9, killed
    left = [p.name for p in (tmp_path / "out").iterdir()]
    assert len(left) == 1 and left[0].startswith(".analysis.json.partial-"), left
    assert subprocess.run([*command, "audit", "verify", "C1", "-e", "Aud"], env=env, capture_output=True,
                          timeout=120).returncode == 0
    rerun = subprocess.run([*command, "case", "export", "C1", "--format", "json", "--output", tmp_path / "out", "-e", "Ann"],
                           env=env, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["analysis.json"]
    store = CaseStore(store_dir)
    assert [e.action for e in store.custody_log("C1")[events:]] == ["verify", "export"]
    store.close()


def test_a_partial_file_of_a_running_process_is_left_alone(tmp_path):
    """Only partial files of processes that have ended are removed: another export writing the
    same name now keeps its file. One named with this process's id is a dead process's whose id
    was reused (this process has not written the name yet): it blocked the write with 'File
    exists' and stayed for good."""
    import os
    import subprocess
    import sys

    from forensic_s2f.output_files import remove_stale_partials

    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as running:
        try:
            alive, gone = tmp_path / f".r.csv.partial-{running.pid}", tmp_path / f".r.csv.partial-{int(ended.stdout)}"
            other = tmp_path / f".r.csv.partial-{int(ended.stdout)}x"
            longer = tmp_path / f".rr.csv.partial-{int(ended.stdout)}"
            reused = tmp_path / f".r.csv.partial-{os.getpid()}"
            for path in (alive, gone, other, longer, reused):
                path.write_bytes(b"x")
            remove_stale_partials(tmp_path / "r.csv")
        finally:
            running.kill()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([alive.name, other.name, longer.name])


def test_a_stop_the_moment_a_partial_file_is_opened_leaves_nothing(cli, store_dir, tmp_path, monkeypatch):
    """A stop between opening a partial file and listing it for removal left the partial file."""
    from forensic_s2f import output_files

    _completed_run_with_one_segment(cli, store_dir, tmp_path)

    def open_then_stop(path, mode):
        open(path, mode).close()
        raise KeyboardInterrupt

    monkeypatch.setattr(output_files, "open", open_then_stop, raising=False)
    result = cli("case", "export", "C1", "--format", "json", "--output", tmp_path / "out", "-e", "Ann")
    assert result.code != 0
    assert list((tmp_path / "out").iterdir()) == []


def test_an_export_killed_while_naming_its_files_leaves_no_partial_files_after_the_next_try(store_dir, tmp_path):
    """SIGKILL after the export was logged, with one file named: the folder kept the partial files
    for good (the next export refused the folder before removing them). The next export into the
    folder is refused (the logged export's names are there) and removes them."""
    import subprocess

    env, command = _case_with_a_run_for_subprocesses(store_dir, tmp_path)
    killed = _export_in_a_process(env, "csv", tmp_path / "out", (
        "from forensic_s2f import output_files\n"
        "place, named = output_files.place, []\n"
        "def place_one(partial, path):\n"
        "    if named: os.kill(os.getpid(), signal.SIGKILL)\n"
        "    named.append(path); place(partial, path)\n"
        "output_files.place = place_one\n"))
    assert killed.returncode == -9, killed
    left = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert len(left) == 5 and sum(".partial-" in name for name in left) == 4, left
    rerun = subprocess.run([*command, "case", "export", "C1", "--format", "csv", "--output", tmp_path / "out", "-e", "Ann"],
                           env=env, capture_output=True, text=True, timeout=120)
    assert rerun.returncode != 0 and "already exists" in rerun.stderr, rerun.stderr
    assert [p.name for p in (tmp_path / "out").iterdir()] == [name for name in left if ".partial-" not in name]


def test_an_export_prints_json_like_every_other_command(cli, store_dir, tmp_path):
    """`case export` was the one command without --json."""
    import hashlib

    _completed_run_with_one_segment(cli, store_dir, tmp_path)
    result = cli("case", "export", "C1", "--format", "csv", "--output", tmp_path / "out", "-e", "Ann", "--json")
    assert result.code == 0, result
    printed = json.loads(result.stdout)
    assert (printed["case_id"], printed["run_id"], printed["format"], printed["evidence_ids"]) == ("C1", 1, "csv", [1])
    assert sorted(Path(f["path"]).name for f in printed["files"]) == ["recordings.csv", "run.csv", "segments.csv",
                                                                     "speakers.csv"]
    for item in printed["files"]:
        assert hashlib.sha256(Path(item["path"]).read_bytes()).hexdigest() == item["sha256"]
    log = json.loads(cli("audit", "log", "C1", "--json").stdout)
    assert log[-1]["action"] == "export" and log[-1]["entry_hash"] == printed["log_head_after"]


def test_a_stop_the_moment_the_partial_files_are_written_leaves_nothing(cli, store_dir, tmp_path, monkeypatch):
    """A stop between `write_pending` returning and the export's clean-up taking hold left every
    partial file in the output folder."""
    from forensic_s2f import output_files

    _completed_run_with_one_segment(cli, store_dir, tmp_path)
    write_pending = output_files.write_pending

    def write_then_stop(*args):
        write_pending(*args)
        raise KeyboardInterrupt

    monkeypatch.setattr(output_files, "write_pending", write_then_stop)
    result = cli("case", "export", "C1", "--format", "csv", "--output", tmp_path / "out", "-e", "Ann")
    assert result.code != 0
    assert list((tmp_path / "out").iterdir()) == []


def test_a_folder_named_like_a_partial_file_is_left_alone(cli, store_dir, tmp_path):
    """A folder whose name matched a dead process's partial file ended the export with
    'internal error: IsADirectoryError'."""
    import subprocess
    import sys

    _completed_run_with_one_segment(cli, store_dir, tmp_path)
    ended = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                               text=True).stdout)
    folder = tmp_path / "out" / f".run.csv.partial-{ended}"
    folder.mkdir(parents=True)
    (folder / "kept.txt").write_text("an analyst's notes")
    result = cli("case", "export", "C1", "--format", "csv", "--output", tmp_path / "out", "-e", "Ann")
    assert result.code == 0, result
    assert (folder / "kept.txt").read_text() == "an analyst's notes" and (tmp_path / "out" / "run.csv").is_file()


def test_a_folder_named_like_this_process_s_partial_file_is_refused_and_left_alone(cli, store_dir, tmp_path):
    """A folder named like the partial file this very process writes ended the export with
    'internal error: IsADirectoryError' (removing the partial file met the folder)."""
    import os

    _completed_run_with_one_segment(cli, store_dir, tmp_path)
    folder = tmp_path / "out" / f".run.csv.partial-{os.getpid()}"
    folder.mkdir(parents=True)
    (folder / "kept.txt").write_text("an analyst's notes")
    events = len(json.loads(cli("audit", "log", "C1", "--json").stdout))
    result = cli("case", "export", "C1", "--format", "csv", "--output", tmp_path / "out", "-e", "Ann")
    assert result.code == 2 and result.stderr.count("\n") == 1, result
    assert result.stderr.startswith(f"error: {folder}: cannot be written (File exists)"), result
    assert (folder / "kept.txt").read_text() == "an analyst's notes"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [folder.name]
    assert len(json.loads(cli("audit", "log", "C1", "--json").stdout)) == events
