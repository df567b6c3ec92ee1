"""Analysis runs in the store: recorded once, read back unchanged, logged, append-only."""

from __future__ import annotations

import sqlite3

import pytest

from conftest import write_tone
from forensic_s2f.errors import StoreError
from forensic_s2f.store.case_store import CaseStore
from forensic_s2f.store.runs import EvidenceResult, SpeakerResult


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
    files = export_files("rttm", evidence, results, run_id=1)
    assert sorted(files) == ["call_one_.rttm", "x-E2.rttm", "x-E3.rttm"]
    assert files["call_one_.rttm"].decode() == "SPEAKER call_one_ 1 0.500 1.250 <NA> <NA> SPEAKER_00 <NA> <NA>\n"
