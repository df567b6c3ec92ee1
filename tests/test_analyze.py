"""`fs2f case analyze / show / export` end to end on real recordings, and its reliability."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import soundfile as sf
from pyannote.core import Annotation, Segment
from pyannote.metrics.diarization import DiarizationErrorRate

import forensic_s2f  # noqa: F401
from pyannote.audio.sample import SAMPLE_FILE

SAMPLE = SAMPLE_FILE["audio"]
RUN_1_FAILED_BY_SIGTERM = "error: terminated (SIGTERM); run 1 of case C1 was recorded as failed\n"


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    """The pyannote sample ingested and analysed once, through the real entry point."""
    home = tmp_path_factory.mktemp("analyzed") / "store"
    env = {**os.environ, "FS2F_HOME": str(home), "FS2F_EXAMINER": "Ann"}
    run = lambda *a: subprocess.run([sys.executable, "-m", "forensic_s2f.cli", *map(str, a)],  # noqa: E731
                                    capture_output=True, text=True, env=env, timeout=600)
    assert run("case", "add", "S1", SAMPLE).returncode == 0
    analyzed = run("case", "analyze", "S1", "--json")
    assert analyzed.returncode == 0, analyzed.stderr
    return home, run, json.loads(analyzed.stdout)


def test_two_speakers_found_with_low_der(sample_run):
    _, run, result = sample_run
    assert {s["speaker"] for s in result["speakers"]} == {"SPEAKER_00", "SPEAKER_01"}
    for speaker in result["speakers"]:
        assert sum(speaker["gender"].values()) == pytest.approx(1.0, abs=1e-3)
        assert speaker["seconds_used"] >= 3.0
    export = json.loads(run("case", "show", "S1", "--json").stdout)
    assert [r["status"] for r in export["runs"]] == ["completed"]
    for shown in export["runs"][0]["speakers"]:  # the model's age estimate, as it recorded it
        ages = list(shown["age"].values())
        centre = list(shown["age"]).index(shown["age_estimate"])
        assert shown["age_estimate_within_one"] == pytest.approx(sum(ages[max(0, centre - 1): centre + 2]), abs=2e-3)
    assert "most probable" in run("case", "show", "S1").stdout


def test_exports_rttm_csv_json_and_logs_them(sample_run, tmp_path):
    home, run, result = sample_run
    for fmt in ("rttm", "csv", "json"):
        done = run("case", "export", "S1", "--format", fmt, "--output", tmp_path / fmt)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("run 1 of case S1 (") and "evidence 1:" in done.stdout.splitlines()[0]
    rttm = (tmp_path / "rttm" / "sample.rttm").read_text().splitlines()
    assert rttm and all(len(line.split()) == 10 and line.startswith("SPEAKER sample 1 ") for line in rttm)
    hypothesis = Annotation()
    for line in rttm:
        fields = line.split()
        start, duration = float(fields[3]), float(fields[4])
        hypothesis[Segment(start, start + duration)] = fields[7]
    der = DiarizationErrorRate(collar=0.25, skip_overlap=False)(SAMPLE_FILE["annotation"], hypothesis,
                                                                uem=SAMPLE_FILE["annotated"])
    assert der < 0.15, f"DER {der:.3f} on the pyannote sample"
    assert (tmp_path / "csv" / "segments.csv").read_text().startswith("run_id,evidence_id,file,speaker,start_seconds")
    header = (tmp_path / "csv" / "speakers.csv").read_text().splitlines()[0].split(",")
    assert {"p_female", "age_estimate", "p_age_estimate_within_one"} <= set(header)
    speakers = list(csv.DictReader((tmp_path / "csv" / "speakers.csv").open()))  # (per-speaker quality was missing)
    assert all(float(row["snr_db"]) > 0 and row["snr_method"] and row["effective_bandwidth_hz"] for row in speakers)
    assert sorted(p.name for p in (tmp_path / "csv").iterdir()) == ["recordings.csv", "run.csv", "segments.csv",
                                                                    "speakers.csv"]
    document = json.loads((tmp_path / "json" / "analysis.json").read_text())
    assert len(document["speakers"]) == 2 and document["segments"]
    assert document["run"]["case_id"] == "S1" and "options" in document["run"]["parameters"]
    assert document["speakers"][0]["file"] == "sample.wav"
    software = document["run"]["software"]  # (an export on its own names the software that ran)
    assert software["fs2f"] and len(software["sha256 fs2f source"]) == 64 and software["torch"].startswith("2.13.0")
    (settings,) = csv.DictReader((tmp_path / "csv" / "run.csv").open())
    assert json.loads(settings["software_json"]) == software
    kept = run("case", "export", "S1", "--format", "files", "--output", tmp_path / "files")
    assert kept.returncode == 0, kept.stderr
    index = list(csv.DictReader((tmp_path / "files" / "files-index.csv").open()))
    kinds = {row["kind"] for row in index}
    assert {"denoised-audio", "speech-regions", "rttm", "face", "prediction"} <= kinds
    for row in index:  # (the denoised copy "kept for listening" could not be got out before)
        assert hashlib.sha256((tmp_path / "files" / row["file"]).read_bytes()).hexdigest() == row["sha256"]
    denoised = next(row for row in index if row["kind"] == "denoised-audio")
    assert denoised["file"] == "E1-denoised.flac" and denoised["evidence_id"] == "1"
    assert sf.info(tmp_path / "files" / denoised["file"]).samplerate == 16_000
    log = json.loads(run("audit", "log", "S1", "--json").stdout)
    assert [e["details"]["format"] for e in log if e["action"] == "export"] == ["rttm", "csv", "json", "files"]
    refused = run("case", "export", "S1", "--format", "rttm", "--output", tmp_path / "rttm")
    assert refused.returncode != 0 and "already exists" in refused.stderr
    assert run("audit", "verify", "S1").returncode == 0


def test_provenance_of_every_stage(sample_run):
    from forensic_s2f.provenance import source_sha256
    from forensic_s2f.store.case_store import CaseStore

    home, _, result = sample_run
    store = CaseStore(home)
    activities = store.activities("S1", result["run_id"])
    kinds = [a.kind for a in activities]
    assert kinds[:5] == ["decode", "vad", "denoise", "quality", "diarize"]
    assert kinds.count("speech2face") == 2
    for activity in activities:
        assert activity.status == "completed" and activity.ended_utc and activity.examiner == "Ann"
        software = json.loads(activity.software_json)
        assert software["torch"].startswith("2.13.0") and software["pillow"]
        assert software["sha256 fs2f source"] == source_sha256()
        assert json.loads(activity.inputs_json)
    speech2face = [a for a in activities if a.kind == "speech2face"]
    assert all(len(a.model_sha256) == 64 for a in speech2face)
    kinds_stored = {a.kind for a in store.artifacts("S1")}
    assert {"denoised-audio", "rttm", "speech-regions", "face", "uncertainty", "members", "prediction"} <= kinds_stored
    store.close()


def test_the_software_record_names_the_code_that_ran(tmp_path):
    """Only fs2f's version was recorded: a constant changed in the code (a warning's threshold,
    the seconds of speech used) changed every estimate and left the record as it was (a
    reproducibility review). The SHA-256 of the package's files names the code itself."""
    import shutil

    from forensic_s2f.provenance import PACKAGE_DIR, source_sha256

    copy = shutil.copytree(PACKAGE_DIR, tmp_path / "forensic_s2f")
    assert source_sha256(copy) == source_sha256()
    (copy / "__pycache__").mkdir(exist_ok=True)
    (copy / "__pycache__" / "stale.cpython-311.pyc").write_bytes(b"compiled")  # (caches do not count)
    assert source_sha256.__wrapped__(copy) == source_sha256()  # (__wrapped__: uncached)
    analysis = copy / "analysis.py"
    analysis.write_text(analysis.read_text().replace("MAX_SPEAKER_SPEECH_SECONDS = 60.0", "MAX_SPEAKER_SPEECH_SECONDS = 10.0"))
    assert source_sha256.__wrapped__(copy) != source_sha256()


def test_rerun_makes_a_new_run_and_options_are_checked(sample_run):
    _, run, first = sample_run
    again = run("case", "analyze", "S1", "--num-speakers", "2", "--no-denoise", "--json")
    assert again.returncode == 0, again.stderr
    second = json.loads(again.stdout)
    assert second["run_id"] == first["run_id"] + 1
    shown = json.loads(run("case", "show", "S1", "--json").stdout)
    assert [r["run_id"] for r in shown["runs"]] == [first["run_id"], second["run_id"]]
    for bad in (["--num-speakers", "0"], ["--min-speakers", "3", "--max-speakers", "2"], ["--evidence", "7"]):
        refused = run("case", "analyze", "S1", *bad)
        assert refused.returncode != 0 and refused.stderr.startswith("error: ") and "Traceback" not in refused.stderr
    assert run("case", "analyze", "NOPE").returncode != 0


def test_speakers_predicted_in_parallel_give_the_same_results(sample_run):
    from forensic_s2f.analysis import AnalysisOptions, CaseAnalysis
    from forensic_s2f.store.case_store import CaseStore

    home, _, first = sample_run
    store = CaseStore(home)
    serial = CaseAnalysis(store, "S1", "Ann", AnalysisOptions(), speaker_workers=1).run(store.evidence("S1"))
    digests = {a.id: a.sha256 for a in store.artifacts("S1")}
    results = {run: store.run_results(run)[0].speakers for run in (first["run_id"], serial)}
    assert len(results[serial]) == 2
    for parallel, one in zip(*results.values()):
        assert (parallel.label, parallel.prediction, parallel.quality, parallel.warnings) == (
            one.label, one.prediction, one.quality, one.warnings)
        assert {k: digests[i] for k, i in parallel.artifacts.items()} == {k: digests[i] for k, i in one.artifacts.items()}
    parameters = [json.loads(r.parameters_json)["speaker_workers"] for r in store.runs("S1") if r.id in results]
    assert parameters == [2, 1]
    store.close()


def test_stages_can_hear_the_denoised_audio_and_the_choice_is_recorded(sample_run):
    from forensic_s2f.analysis import AnalysisOptions, CaseAnalysis
    from forensic_s2f.errors import Fs2fError
    from forensic_s2f.store.case_store import CaseStore

    home, _, _ = sample_run
    store = CaseStore(home)
    options = AnalysisOptions(diarize_on="denoised", predict_on="denoised")
    run_id = CaseAnalysis(store, "S1", "Ann", options).run(store.evidence("S1"))
    audio = {a.kind: json.loads(a.parameters_json).get("audio") for a in store.activities("S1", run_id)}
    assert audio["diarize"] == audio["speech2face"] == "denoised"
    assert json.loads(store.run("S1", run_id).parameters_json)["options"]["diarize_on"] == "denoised"
    assert len(store.run_results(run_id)[0].speakers) == 2
    with pytest.raises(Fs2fError, match="diarize_on"):
        CaseAnalysis(store, "S1", "Ann", AnalysisOptions(diarize_on="auto"))
    store.close()


def _write(path, samples, rate, **kwargs):
    sf.write(path, samples, rate, **kwargs)
    return path


def test_difficult_evidence_gives_clear_outcomes(cli, store_dir, tmp_path):
    speech, rate = sf.read(SAMPLE, dtype="float32")
    excerpt = speech[6 * rate: 18 * rate]
    rng = np.random.default_rng(0)
    from scipy.signal import resample_poly

    files = {
        "silence.wav": _write(tmp_path / "silence.wav", np.zeros(5 * rate, np.float32), rate),
        "noise.wav": _write(tmp_path / "noise.wav", (0.05 * rng.standard_normal(5 * rate)).astype(np.float32), rate),
        "short.wav": _write(tmp_path / "short.wav", excerpt[rate: rate + rate // 2], rate),
        "clipped.wav": _write(tmp_path / "clipped.wav", np.clip(excerpt * 20, -1, 1), rate),
        "narrow.wav": _write(tmp_path / "narrow.wav", resample_poly(excerpt, 1, 2).astype(np.float32), 8000),
        "stereo48k.flac": _write(tmp_path / "stereo48k.flac",
                                 np.stack([resample_poly(excerpt, 3, 1)] * 2, axis=1).astype(np.float32), 48000),
    }
    assert cli("case", "add", "HARD", *files.values(), "-e", "Ann").code == 0
    result = cli("case", "analyze", "HARD", "-e", "Ann", "--json")
    assert result.code == 0, result
    analysis = json.loads(result.stdout)
    names = {e["id"]: e["original_filename"] for e in json.loads(cli("case", "show", "HARD", "--json").stdout)["evidence"]}
    warnings = {names[e["evidence_id"]]: " | ".join(e["warnings"]) for e in analysis["evidence"]}
    speakers = {name: [s for s in analysis["speakers"] if s["file"] == name] for name in names.values()}
    assert "no speech" in warnings["silence.wav"] and not speakers["silence.wav"]
    assert not speakers["noise.wav"] or all(s["warnings"] for s in speakers["noise.wav"])
    assert "short" in warnings["short.wav"] or "little speech" in warnings["short.wav"]
    assert all(not s["gender"] for s in speakers["short.wav"])  # under 1 s: no estimate, said so
    assert "clipped" in warnings["clipped.wav"]
    assert "narrow band" in warnings["narrow.wav"]
    assert speakers["stereo48k.flac"] and speakers["stereo48k.flac"][0]["gender"]
    assert cli("audit", "verify", "HARD").code == 0


@pytest.mark.slow
def test_two_hour_recording_is_analysed_whole_in_bounded_memory(tmp_path):
    """The pyannote sample three times in two hours of faint noise, through add, analyze and verify."""
    import resource

    speech, rate = sf.read(SAMPLE, dtype="float32")
    placed = [60, 3600, 7080]  # seconds
    path = tmp_path / "two-hours.wav"
    rng = np.random.default_rng(0)
    with sf.SoundFile(path, "w", samplerate=rate, channels=1, subtype="PCM_16") as out:
        for minute in range(120):
            block = (0.0005 * rng.standard_normal(60 * rate)).astype(np.float32)
            if minute * 60 in placed:
                block[: len(speech)] += speech
            out.write(block)
    env = {**os.environ, "FS2F_HOME": str(tmp_path / "store"), "FS2F_EXAMINER": "Ann"}
    run = lambda *a: subprocess.run([sys.executable, "-m", "forensic_s2f.cli", *map(str, a)],  # noqa: E731
                                    capture_output=True, text=True, env=env, timeout=900)
    assert run("case", "add", "LONG", path).returncode == 0
    analyzed = run("case", "analyze", "LONG", "--json")
    assert analyzed.returncode == 0, analyzed.stderr
    assert resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss < 2 * 1024 * 1024  # KiB: under 2 GiB
    result = json.loads(analyzed.stdout)
    # Both voices are found; the count is over-estimated (5). The three copies are the same audio,
    # so each stray piece of the sample (under 4 s, folded away there) recurs identically: a
    # cluster of 4.8-6.1 s that lies off the line between the two voices (blend distance 0.87-0.92),
    # unlike the blend clusters of a long real conversation (docs/benchmarks.md, speaker count).
    assert len(result["speakers"]) >= 2
    exported = run("case", "export", "LONG", "--format", "json", "--output", tmp_path / "out")
    assert exported.returncode == 0, exported.stderr
    segments = json.loads((tmp_path / "out" / "analysis.json").read_text())["segments"]
    assert all(any(p - 1 <= s["start_seconds"] and s["end_seconds"] <= p + 31 for p in placed) for s in segments)
    assert {p for p in placed for s in segments if p - 1 <= s["start_seconds"] <= p + 31} == set(placed)
    assert run("audit", "verify", "LONG").returncode == 0


@pytest.mark.parametrize("delay_seconds", [4.0, 7.0, 10.0])
def test_killed_analysis_leaves_a_consistent_store(tmp_path, delay_seconds):
    env = {**os.environ, "FS2F_HOME": str(tmp_path / "store"), "FS2F_EXAMINER": "Ann"}
    command = [sys.executable, "-m", "forensic_s2f.cli"]
    assert subprocess.run([*command, "case", "add", "K1", SAMPLE], env=env, capture_output=True, timeout=300).returncode == 0
    process = subprocess.Popen([*command, "case", "analyze", "K1"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(delay_seconds)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    verified = subprocess.run([*command, "audit", "verify", "K1"], env=env, capture_output=True, text=True, timeout=300)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    rerun = subprocess.run([*command, "case", "analyze", "K1", "--json"], env=env, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    assert len(json.loads(rerun.stdout)["speakers"]) == 2
    # the killed run's working copies of decoded audio are gone too
    assert list((tmp_path / "store" / "scratch").iterdir()) == []


@pytest.mark.parametrize("stop, code, said", [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")])
def test_stopped_analysis_is_recorded_as_failed(tmp_path, stop, code, said):
    """SIGTERM (a scheduler's stop) used to leave the run 'running' for good, as SIGKILL must;
    Ctrl-C ended silently."""
    env = {**os.environ, "FS2F_HOME": str(tmp_path / "store"), "FS2F_EXAMINER": "Ann"}
    command = [sys.executable, "-m", "forensic_s2f.cli"]
    # four minutes (the sample eight times): the analysis outlasts a `case show` poll (about a second)
    audio, rate = sf.read(SAMPLE, dtype="float32")
    sf.write(tmp_path / "long.flac", np.tile(audio, 8), rate)
    assert subprocess.run([*command, "case", "add", "T1", tmp_path / "long.flac"], env=env, capture_output=True,
                          timeout=300).returncode == 0
    process = subprocess.Popen([*command, "case", "analyze", "T1"], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True, restore_signals=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    shown = {}
    for _ in range(600):  # until the run is recorded (model loading comes first)
        time.sleep(0.05)
        shown = json.loads(subprocess.run([*command, "case", "show", "T1", "--json"], env=env, capture_output=True,
                                          text=True, timeout=60).stdout)
        if shown["runs"]:
            break
    process.send_signal(stop)
    assert process.wait(timeout=120) == code
    assert process.stderr.read() == f"error: {said} ({stop.name}); run 1 of case T1 was recorded as failed\n"
    shown = json.loads(subprocess.run([*command, "case", "show", "T1", "--json"], env=env, capture_output=True,
                                      text=True, timeout=60).stdout)
    assert [(run["status"], run["error"]) for run in shown["runs"]] == [("failed", f"Terminated: {stop.name}")]
    log = json.loads(subprocess.run([*command, "audit", "log", "T1", "--json"], env=env, capture_output=True,
                                    text=True, timeout=60).stdout)
    started = {e["object_id"] for e in log if e["action"] == "activity-start"}
    assert started and started == {e["object_id"] for e in log if e["action"] == "activity-end"}  # (none left open)
    assert subprocess.run([*command, "audit", "verify", "T1"], env=env, capture_output=True, timeout=300).returncode == 0


def test_an_error_a_stop_causes_ends_as_the_stop(cli, store_dir, tmp_path, monkeypatch):
    """A stop can end a command through another error than its Terminated: a stopped `case
    analyze` once ended "internal error: AttributeError: module 'matplotlib' has no attribute
    'get_data_path'" (exit 3, in a CI-style run; about one stop in 20 early in the analysis). The
    stop is what ended the command: its line, its exit code, the run failed by it."""
    import os

    from conftest import write_tone
    from forensic_s2f.analysis import CaseAnalysis

    assert cli("case", "add", "C1", write_tone(tmp_path / "a.wav"), "-e", "Ann").code == 0

    def stopped_then_broken(self, *args, **kwargs):
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)
            (lambda: None)()
        except BaseException:  # noqa: B036 (as third-party code may)
            pass
        raise AttributeError("module 'matplotlib' has no attribute 'get_data_path'")

    monkeypatch.setattr(CaseAnalysis, "_evidence", stopped_then_broken)
    result = cli("case", "analyze", "C1", "-e", "Ann")
    assert result.code == 143 and result.stderr == RUN_1_FAILED_BY_SIGTERM
    shown = json.loads(cli("case", "show", "C1", "--json").stdout)
    assert [(run["status"], run["error"]) for run in shown["runs"]] == [("failed", "Terminated: SIGTERM")]
    assert cli("audit", "verify", "C1").code == 0


def test_an_internal_error_that_fails_a_run_says_the_run_was_recorded_as_failed(cli, store_dir, tmp_path, monkeypatch):
    """The error line named only the error; whether a failed run was now in the case was for the
    examiner to find out with `case show` (an input error: tests/test_bad_input.py)."""
    from conftest import write_tone
    from forensic_s2f.analysis import CaseAnalysis

    assert cli("case", "add", "C1", write_tone(tmp_path / "a.wav"), "-e", "Ann").code == 0

    def fails(self, *args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(CaseAnalysis, "_evidence", fails)
    result = cli("case", "analyze", "C1", "-e", "Ann")
    assert result.code == 3 and result.stderr == ("internal error: RuntimeError: boom (set FS2F_DEBUG=1 for a "
                                                  "traceback); run 1 of case C1 was recorded as failed\n")
    shown = json.loads(cli("case", "show", "C1", "--json").stdout)
    assert [run["status"] for run in shown["runs"]] == ["failed"]
    assert cli("audit", "verify", "C1").code == 0


def test_a_run_that_cannot_be_recorded_as_failed_still_ends_with_the_error_that_failed_it(cli, store_dir, tmp_path,
                                                                                          monkeypatch):
    """When the store refused the failed run's record (another command holding it past the
    wait), the line named that refusal and the error that failed the run was lost."""
    from conftest import write_tone
    from forensic_s2f.analysis import CaseAnalysis
    from forensic_s2f.errors import StoreError
    from forensic_s2f.store.case_store import CaseStore

    assert cli("case", "add", "C1", write_tone(tmp_path / "a.wav"), "-e", "Ann").code == 0
    finish_run = CaseStore.finish_run

    def fails(self, *args, **kwargs):
        raise RuntimeError("boom")

    def locked_when_failed(self, run_id, examiner, status, *args, **kwargs):
        if status == "failed":
            raise StoreError("the case store is locked by another fs2f command")
        return finish_run(self, run_id, examiner, status, *args, **kwargs)

    monkeypatch.setattr(CaseAnalysis, "_evidence", fails)
    monkeypatch.setattr(CaseStore, "finish_run", locked_when_failed)
    result = cli("case", "analyze", "C1", "-e", "Ann")
    assert result.code == 3 and result.stderr == (
        "internal error: RuntimeError: boom (set FS2F_DEBUG=1 for a traceback); run 1 of case C1 could not be "
        "recorded as failed (the case store is locked by another fs2f command); `fs2f case show C1` lists it as "
        "running or interrupted\n")
    shown = json.loads(cli("case", "show", "C1", "--json").stdout)
    assert [run["status"] for run in shown["runs"]] == ["running"]
    assert "running or interrupted" in cli("case", "show", "C1").stdout
    assert cli("audit", "verify", "C1").code == 0


def test_longest_turns_caps_speech_and_keeps_time_order():
    from forensic_s2f.analysis import longest_turns

    regions = [(0.0, 2.0), (3.0, 13.0), (20.0, 25.0), (30.0, 31.0)]
    assert longest_turns(regions, 100.0) == regions
    assert longest_turns(regions, 12.0) == [(3.0, 13.0), (20.0, 22.0)]
    assert longest_turns(regions, 0.0) == []


def test_speech_in_pieces_maps_voice_activity_into_joined_time():
    from forensic_s2f.analysis import speech_in_pieces

    pieces = [(10.0, 14.0), (20.0, 22.0)]
    speech = [(0.0, 11.0), (12.0, 13.0), (13.5, 21.0), (30.0, 31.0)]
    joined = speech_in_pieces(pieces, [4.0, 2.0], speech)
    assert joined == [(0.0, 1.0), (2.0, 3.0), (3.5, 4.0), (4.0, 5.0)]
    # a piece cut short (end of the audio) bounds its speech; no speech gives nothing
    assert speech_in_pieces([(10.0, 14.0)], [1.5], [(10.0, 14.0)]) == [(0.0, 1.5)]
    assert speech_in_pieces(pieces, [4.0, 2.0], []) == []


def test_a_speakers_estimate_leaves_out_speech_set_aside_as_unlike_its_voice():
    """Speech the clustering set aside (it matched no voice well) and gave to a speaker is not
    what the face model hears while the speaker has 1 s of other speech, and the speaker's own
    warnings say where it lies: it may be another person's, and it had been used unsaid."""
    from forensic_s2f.analysis import _speaker_input
    from forensic_s2f.diarize.annotation import Diarization

    rate = 100
    samples = np.arange(20 * rate, dtype=np.float32)
    annotation = Annotation()
    annotation[Segment(0.0, 6.0)] = "SPEAKER_00"
    annotation[Segment(6.5, 9.5)] = "SPEAKER_01"
    annotation[Segment(10.0, 12.5)] = "SPEAKER_00"
    annotation[Segment(12.45, 12.5)] = "SPEAKER_01"  # (a sliver of the stretch: not warned of)
    speech = [(0.0, 20.0)]
    diarization = Diarization(annotation, [(9.9, 12.5)])

    job = _speaker_input(diarization, "SPEAKER_00", samples, rate, speech, ["inherited"])
    assert job.regions == [(0.0, 6.0)] and not job.set_aside_used and not job.overlap_used
    assert job.warnings[0] == "inherited"
    assert job.warnings[1] == ("2.5 s of the speech given to this speaker (at 10.0-12.5 s) matched its voice poorly "
                               "and may be another person's: the estimate was made without it")
    other = _speaker_input(diarization, "SPEAKER_01", samples, rate, speech, [])
    assert other.warnings == [] and other.regions == [(6.5, 9.5)]

    only_doubt = Annotation()
    only_doubt[Segment(0.0, 0.6)] = "SPEAKER_00"
    only_doubt[Segment(10.0, 12.5)] = "SPEAKER_00"
    job = _speaker_input(Diarization(only_doubt, [(9.9, 12.5)]), "SPEAKER_00", samples, rate, speech, [])
    assert job.regions == [(0.0, 0.6), (10.0, 12.5)] and job.set_aside_used
    assert job.warnings[0].endswith("it was used, since this speaker has too little other speech")
    np.testing.assert_array_equal(job.speech, np.concatenate([samples[0:60], samples[1000:1250]]))

    touching = Annotation()  # (a stretch is made of embedding windows: it runs into the neighbour's turn)
    touching[Segment(0.0, 6.0)] = "SPEAKER_00"
    touching[Segment(6.0, 12.0)] = "SPEAKER_01"
    spill = Diarization(touching, [(4.0, 7.2)])
    owner = _speaker_input(spill, "SPEAKER_00", samples, rate, speech, [])
    neighbour = _speaker_input(spill, "SPEAKER_01", samples, rate, speech, [])
    assert owner.regions == [(0.0, 4.0)] and "(at 4.0-6.0 s)" in owner.warnings[0]
    assert neighbour.regions == [(6.0, 12.0)] and neighbour.warnings == []  # (it lost 6.0-7.2 s, and was warned)

    plain = _speaker_input(Diarization(annotation), "SPEAKER_00", samples, rate, speech, [])
    assert plain.regions == [(0.0, 6.0), (10.0, 12.45)] and plain.warnings == []  # (nothing set aside: all its solo turns)


def test_a_speaker_count_outside_the_one_asked_for_is_warned_of():
    from forensic_s2f.analysis import AnalysisOptions

    assert AnalysisOptions(num_speakers=50).count_warnings(12) == [
        "50 speakers were asked for, 12 were found: the others had too little speech to be told apart"]
    assert AnalysisOptions(min_speakers=4).count_warnings(3)[0].startswith("at least 4 speakers were asked for, 3")
    assert AnalysisOptions(min_speakers=2, max_speakers=3).count_warnings(1)[0].startswith("2 to 3 speakers were")
    assert AnalysisOptions(num_speakers=3).count_warnings(3) == AnalysisOptions().count_warnings(7) == []
    assert AnalysisOptions(num_speakers=2).count_warnings(0) == []  # (no speech: warned of as such)
    assert AnalysisOptions(max_speakers=1).count_warnings(1, free=2) == [
        "the examiner's limit (at most 1 speaker) gave 1; counted freely, the clustering finds 2: voices it would have "
        "kept apart may be joined in one speaker"]
    assert AnalysisOptions(min_speakers=4).count_warnings(4, free=2)[0].endswith("one voice may be split into several speakers")
    assert AnalysisOptions(num_speakers=2).count_warnings(2, free=3)[0].startswith(  # (it read "the examiner's limit")
        "the count the examiner fixed (2 speakers) gave 2; counted freely, the clustering finds 3")
    assert AnalysisOptions(min_speakers=3, max_speakers=3).count_warnings(3, free=1)[0].startswith(
        "the count the examiner fixed (3 speakers) gave 3")
    assert AnalysisOptions(max_speakers=2).count_warnings(3) == [
        "at most 2 speakers were asked for, 3 were found: voices the clustering could not join were kept apart"]


def test_the_stop_signal_handlers_are_the_callers_again_after_a_command():
    """main() installs its handlers for the command only (a second call saw SIG_IGN and kept it)."""
    from forensic_s2f.cli import main

    before = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    main(["version"])
    assert {number: signal.getsignal(number) for number in before} == before
    with pytest.raises(SystemExit):
        main(["case", "show", "--no-such-option"])
    assert {number: signal.getsignal(number) for number in before} == before


_ENTRY_WITH_A_STOP = """
import builtins, os, signal, sys
real = builtins.__import__
def stop_at(name, *args, **kwargs):
    if name == "typer":
        builtins.__import__ = real
        os.kill(os.getpid(), signal.{stop})
    return real(name, *args, **kwargs)
sys.argv = ["fs2f", "case", "list"]
builtins.__import__ = stop_at
from forensic_s2f.entry import main
main()
"""


def _python(script: str, store, **options) -> subprocess.CompletedProcess:
    """`script` run by this Python in a process of its own, with `store` as the case store."""
    return subprocess.run([sys.executable, "-c", script], env={**os.environ, "FS2F_HOME": str(store)},
                          capture_output=True, text=True, timeout=120, **options)


@pytest.mark.parametrize("stop, code, said", [("SIGINT", 130, "interrupted"), ("SIGTERM", 143, "terminated")])
def test_a_stop_while_the_command_loads_ends_with_its_line(tmp_path, stop, code, said):
    """A stop while `fs2f` imported its libraries (a tenth of a second) printed a KeyboardInterrupt
    traceback (SIGINT) or ended with no line at all (SIGTERM)."""
    script = _ENTRY_WITH_A_STOP.format(stop=stop)
    ended = _python(script, tmp_path,  # (a background job inherits SIGINT ignored)
                    preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert ended.returncode == code, ended
    assert ended.stderr == f"error: {said} ({stop}) while fs2f was starting; nothing was done\n"
    assert not (tmp_path / "fs2f.db").exists()


def test_a_stop_once_the_command_has_ended_leaves_its_status(tmp_path):
    """A stop while Python shut down after a command (its handlers given back) killed the
    process with no line, or turned a finished command into an interrupted one."""
    script = ("import os, signal, sys\nsys.argv = ['fs2f', 'case', 'list']\nfrom forensic_s2f.entry import main\n"
              "try:\n    main()\nfinally:\n    os.kill(os.getpid(), signal.SIGTERM)\n")
    ended = _python(script, tmp_path)
    assert ended.returncode == 0 and ended.stderr == "", ended


def test_a_stop_as_the_command_gives_back_its_handlers_leaves_its_status(tmp_path):
    """A stop after the command had ended but before it gave back the handlers it found raised
    Terminated out of the entry point: a traceback and status 1 for a command that succeeded."""
    script = ("import os, signal, sys\nsys.argv = ['fs2f', 'case', 'list']\nimport forensic_s2f.cli as cli\n"
              "ended = cli.mark_command_ended\n"
              "def end_then_stop():\n    ended()\n    os.kill(os.getpid(), signal.SIGTERM)\n"
              "cli.mark_command_ended = end_then_stop\nfrom forensic_s2f.entry import main\nmain()\n")
    ended = _python(script, tmp_path)
    assert ended.returncode == 0 and ended.stderr == "", ended


def test_a_stop_signal_right_after_the_run_is_recorded_still_fails_the_run(cli, store_dir, tmp_path, monkeypatch):
    from conftest import write_tone
    """The window between the run's first record and the code that records failures."""
    import os

    from forensic_s2f.store.case_store import CaseStore

    assert cli("case", "add", "C1", write_tone(tmp_path / "a.wav"), "-e", "Ann").code == 0
    start_run = CaseStore.start_run

    def start_then_stop(self, *args, **kwargs):
        run = start_run(self, *args, **kwargs)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)  # (the bystander thread below takes the signal)
        (lambda: None)()  # a call: Python runs a pending handler here, before `run` reaches the caller
        return run

    monkeypatch.setattr(CaseStore, "start_run", start_then_stop)
    # Another thread takes a signal sent to the process when the main thread blocks it, and the
    # handler then ran at once: a signal mask held nothing (a fresh clone's test run hit it).
    done = threading.Event()
    bystander = threading.Thread(target=done.wait)
    bystander.start()
    try:
        result = cli("case", "analyze", "C1", "-e", "Ann")
    finally:
        done.set()
        bystander.join()
    assert result.code == 143 and result.stderr == RUN_1_FAILED_BY_SIGTERM
    shown = json.loads(cli("case", "show", "C1", "--json").stdout)
    assert [(run["status"], run["error"]) for run in shown["runs"]] == [("failed", "Terminated: SIGTERM")]


@pytest.mark.parametrize("kind", ["decode", "diarize"])
def test_a_stop_as_a_store_write_ends_cannot_skip_its_end(cli, store_dir, tmp_path, monkeypatch, kind):
    """Python runs a signal's handler between any two steps: a Terminated raised as a store
    write's context manager began its exit skipped the exit, so the write's lock and transaction
    stayed open and the run could not be recorded as failed (the command hung; seen in CI). The
    stop is now held until the write has committed and let go of the store."""
    import contextlib

    from conftest import write_tone

    assert cli("case", "add", "C1", write_tone(tmp_path / "a.wav"), "-e", "Ann").code == 0
    fired = []

    def stop_as_the_write_ends(frame, event, _arg):
        # the write that records the `kind` activity as started; the handler runs as its exit begins
        if (event == "call" and not fired and frame.f_code is contextlib._GeneratorContextManager.__exit__.__code__
                and frame.f_locals["self"].gen.__name__ == "_write"
                and any(f.f_code.co_name == "start_activity" and f.f_locals.get("kind") == kind
                        for f in _callers(frame))):
            fired.append(kind)
            signal.raise_signal(signal.SIGTERM)
        return None

    previous = sys.gettrace()
    sys.settrace(stop_as_the_write_ends)
    try:
        result = cli("case", "analyze", "C1", "-e", "Ann")
    finally:
        sys.settrace(previous)
    assert fired == [kind]
    assert result.code == 143 and result.stderr == RUN_1_FAILED_BY_SIGTERM
    shown = json.loads(cli("case", "show", "C1", "--json").stdout)
    assert [(run["status"], run["error"]) for run in shown["runs"]] == [("failed", "Terminated: SIGTERM")]
    # the write the stop arrived in went in whole; the step it began is recorded as cut short
    from forensic_s2f.store.case_store import CaseStore

    store = CaseStore(store_dir)
    assert [(a.kind, a.status) for a in store.activities("C1")][-1] == (kind, "failed")
    store.close()
    assert cli("audit", "verify", "C1").code == 0


def _callers(frame):
    while frame is not None:
        yield frame
        frame = frame.f_back


def test_a_stop_during_a_large_copy_into_the_vault_ends_the_copy(cli, store_dir, tmp_path, monkeypatch):
    """Store writes hold stop signals, but copying a recording into the vault can take minutes:
    the stop is taken between blocks, and the store is left as it was."""
    from conftest import write_tone

    import types

    from forensic_s2f.store import vault

    assert cli("case", "add", "C1", write_tone(tmp_path / "a.wav"), "-e", "Ann").code == 0
    before = json.loads(cli("case", "show", "C1", "--json").stdout)
    objects = sorted(p.relative_to(store_dir) for p in (store_dir / "vault").rglob("*"))
    monkeypatch.setattr(vault, "BLOCK_BYTES", 4096)
    digests = []

    sha256 = vault.hashlib.sha256

    class StopAfterTwoBlocks:
        def __init__(self, data=b""):
            self.inner = sha256(data)

        def update(self, block):
            digests.append(len(block))
            if len(digests) == 2:
                os.kill(os.getpid(), signal.SIGTERM)
            self.inner.update(block)

        def hexdigest(self):
            return self.inner.hexdigest()

    monkeypatch.setattr(vault, "hashlib", types.SimpleNamespace(sha256=StopAfterTwoBlocks))
    result = cli("case", "add", "C1", write_tone(tmp_path / "b.wav", seconds=20.0), "-e", "Ann")
    assert result.code == 143 and result.stderr == "error: terminated (SIGTERM)\n"
    assert len(digests) == 2  # not the 157 blocks of the file
    assert json.loads(cli("case", "show", "C1", "--json").stdout) == before
    assert sorted(p.relative_to(store_dir) for p in (store_dir / "vault").rglob("*")) == objects


@pytest.mark.parametrize("command", ["export", "report"])
def test_a_stop_while_an_output_is_being_recorded_keeps_it_whole(cli, store_dir, tmp_path, monkeypatch, command):
    """A stop held by the store write that records an export or a report was raised once the
    write ended, and the command then removed the files the custody log names (export), or left
    the report step 'running' for good and removed the PDF (report). Recorded is kept, and the
    stop's line says what was recorded."""
    from conftest import write_tone

    from forensic_s2f.store import custody
    from forensic_s2f.store.case_store import CaseStore
    from forensic_s2f.store.vault import sha256_file

    assert cli("case", "add", "C1", write_tone(tmp_path / "a.wav"), "-e", "Ann").code == 0
    assert cli("case", "analyze", "C1", "-e", "Ann").code == 0
    append = custody.append

    def append_then_stop(db, case_id, examiner, action, *args, **kwargs):
        event = append(db, case_id, examiner, action, *args, **kwargs)
        if action in ("export", "activity-start"):
            os.kill(os.getpid(), signal.SIGTERM)
            (lambda: None)()  # a call: Python runs the pending handler here, inside the write
        return event

    monkeypatch.setattr(custody, "append", append_then_stop)
    output = tmp_path / ("exports" if command == "export" else "r.pdf")
    args = ("--format", "json", "--output", output) if command == "export" else ("--output", output)
    result = cli("case", command, "C1", *args, "-e", "Ann")
    monkeypatch.setattr(custody, "append", append)
    assert result.code == 143 and result.stderr.startswith("error: terminated (SIGTERM) after ")
    store = CaseStore(store_dir)
    log = store.custody_log("C1")
    if command == "export":
        files = json.loads(log[-1].details_json)["files"]
        assert log[-1].action == "export" and files
        assert all(sha256_file(output / f["name"]) == f["sha256"] for f in files)
        assert result.stderr.endswith(f"after the json export of run 1 was written to {output} and logged in case C1\n")
    else:
        assert [(a.kind, a.status) for a in store.activities("C1") if a.kind == "report"] == [("report", "completed")]
        assert log[-1].action == "report" and log[-1].object_sha256 == sha256_file(output)
        report_id = json.loads(log[-1].details_json)["report_id"]
        assert result.stderr.endswith(f"after report {report_id} was written to {output} and recorded in case C1\n")
    store.close()
    assert cli("audit", "verify", "C1").code == 0


def test_after_a_stop_a_second_one_ends_the_command_at_once_with_its_line(store_dir, tmp_path, monkeypatch):
    """main() put the caller's handlers back as a stopped command ended, so a second signal then
    killed the process by its default action, with no line (or Python's KeyboardInterrupt)."""
    from conftest import write_tone

    from forensic_s2f import cli as fs2f_cli
    from forensic_s2f.store import vault

    before = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    copy = vault.Vault.put_file

    def stopped_copy(self, source, checked=None):
        os.kill(os.getpid(), signal.SIGTERM)  # (SIGINT may be ignored here: a shell's background job)
        return copy(self, source, checked)

    monkeypatch.setattr(vault.Vault, "put_file", stopped_copy)
    try:
        with pytest.raises(SystemExit) as ended:
            fs2f_cli.main(["case", "add", "C1", str(write_tone(tmp_path / "a.wav")), "-e", "Ann"])
        assert ended.value.code == 143
        handled = [number for number, handler in before.items() if handler is not signal.SIG_IGN]
        assert signal.SIGTERM in handled and all(signal.getsignal(number) is fs2f_cli._stop_now for number in handled)
    finally:
        for number, handler in before.items():
            signal.signal(number, handler)


def _lose_a_stop() -> None:
    """SIGTERM whose handler runs inside an object's finaliser, where Python prints the
    handler's exception (Terminated) and drops it, as it does in a garbage collector's or a weak
    reference's callback."""
    from forensic_s2f import errors

    class Finalised:
        def __del__(self) -> None:
            os.kill(os.getpid(), signal.SIGTERM)
            deadline = time.monotonic() + 5
            while errors.stop_received() is None and time.monotonic() < deadline:
                pass  # (the handler runs here, between two steps)

    Finalised()


def test_a_stop_python_dropped_in_a_finaliser_still_stops_the_command(cli, store_dir, tmp_path, monkeypatch):
    """A stop raised in a finaliser was printed as 'Exception ignored' and lost: the command ran
    on to its end and exited 0 (6 of about 170 stops). Now it stops at the next safe point: the
    next block of a copy into the vault (the intake is then undone), the next step of an
    analysis (the run is recorded as failed), or the command's end."""
    from conftest import write_tone
    from forensic_s2f.store import vault
    from forensic_s2f.store.case_store import CaseStore

    put_file = vault.Vault.put_file

    def stop_then_copy(self, source, checked=None):
        _lose_a_stop()
        return put_file(self, source, checked)

    with monkeypatch.context() as patched:
        patched.setattr(vault.Vault, "put_file", stop_then_copy)
        result = cli("case", "add", "C1", write_tone(tmp_path / "a.wav"), "-e", "Ann")
    assert result.code == 143 and result.stderr == "error: terminated (SIGTERM)\n", result
    assert cli("case", "show", "C1").code == 2  # (the intake was undone: no case)

    assert cli("case", "add", "C1", write_tone(tmp_path / "a.wav"), "-e", "Ann").code == 0
    start_run = CaseStore.start_run

    def start_then_stop(self, *args, **kwargs):
        run = start_run(self, *args, **kwargs)
        _lose_a_stop()
        return run

    with monkeypatch.context() as patched:
        patched.setattr(CaseStore, "start_run", start_then_stop)
        result = cli("case", "analyze", "C1", "-e", "Ann")
    assert result.code == 143 and result.stderr == RUN_1_FAILED_BY_SIGTERM, result
    shown = json.loads(cli("case", "show", "C1", "--json").stdout)
    assert [(run["status"], run["error"]) for run in shown["runs"]] == [("failed", "Terminated: SIGTERM")]

    summary = CaseStore.case_summary

    def summary_then_stop(self, *args, **kwargs):
        _lose_a_stop()
        return summary(self, *args, **kwargs)

    with monkeypatch.context() as patched:
        patched.setattr(CaseStore, "case_summary", summary_then_stop)
        result = cli("case", "show", "C1")
    assert result.code == 143 and result.stderr.endswith("error: terminated (SIGTERM)\n"), result
    assert cli("audit", "verify", "C1").code == 0


def test_a_stop_while_another_process_holds_the_store_ends_the_wait(cli, store_dir, tmp_path, monkeypatch):
    """The export's logging holds stops (so that a logged export keeps its files); waiting there
    for another process's store lock, a stop was held until that process let go."""
    import fcntl

    from conftest import write_tone

    from forensic_s2f.store.case_store import CaseStore

    assert cli("case", "add", "C1", write_tone(tmp_path / "a.wav"), "-e", "Ann").code == 0
    assert cli("case", "analyze", "C1", "-e", "Ann").code == 0
    before = json.loads(cli("audit", "log", "C1", "--json").stdout)
    record_event = CaseStore.record_event
    other = open(store_dir / ".fs2f.lock", "a+")  # (another open file: flock excludes it as another process)
    timers = []

    def record_while_another_holds_the_store(self, *args, **kwargs):
        fcntl.flock(other, fcntl.LOCK_EX)
        timers.extend([threading.Timer(20.0, fcntl.flock, (other, fcntl.LOCK_UN)),
                       threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM))])
        for timer in timers:
            timer.start()
        return record_event(self, *args, **kwargs)

    monkeypatch.setattr(CaseStore, "record_event", record_while_another_holds_the_store)
    started = time.monotonic()
    try:
        result = cli("case", "export", "C1", "--format", "json", "--output", tmp_path / "out", "-e", "Ann")
    finally:
        waited = time.monotonic() - started
        for timer in timers:
            timer.cancel()
        other.close()
    monkeypatch.setattr(CaseStore, "record_event", record_event)
    assert timers and result.code == 143 and result.stderr == "error: terminated (SIGTERM)\n"
    assert waited < 10.0
    assert not any((tmp_path / "out").iterdir())  # nothing logged, nothing kept
    assert json.loads(cli("audit", "log", "C1", "--json").stdout) == before


def test_a_speaker_without_an_estimate_is_not_warned_of_its_estimate_s_reliability():
    """A speaker with too little speech read 'this speaker's estimate is less reliable than the
    validation figures say' beside 'no voice-to-face estimate'."""
    from forensic_s2f.analysis import speaker_warnings

    recording = ["the recording's signal-to-noise ratio is low: estimated 4.0 dB (under 10 dB, speech vs pauses); "
                 "this speaker's estimate is less reliable than the validation figures say", "set aside: 1.2 s"]
    none = ["no voice-to-face estimate: only 0.4 s of speech, at least 1 s is needed"]
    assert speaker_warnings(recording, none, estimated=False) == ["set aside: 1.2 s", *none]
    assert speaker_warnings(recording, ["only 1.4 s of speech: low reliability"], estimated=True) == [
        *recording, "only 1.4 s of speech: low reliability"]
    own = ["low signal-to-noise ratio: estimated 3.0 dB (under 10 dB, blind percentile estimate)"]
    assert speaker_warnings(recording, own, estimated=True) == ["set aside: 1.2 s", *own]


def test_a_stop_while_the_error_line_is_printed_ends_as_stopped_without_a_traceback(cli, store_dir, monkeypatch):
    """A stop signal's handler runs between any two steps, also while a command's error line is
    printed: its Terminated escaped the error handlers and ended in a traceback."""
    from forensic_s2f import cli as cli_module
    from forensic_s2f.errors import Terminated

    printed = cli_module.err.print
    calls = []

    def stopped_once(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            raise Terminated("SIGTERM")
        printed(*args, **kwargs)

    monkeypatch.setattr(cli_module.err, "print", stopped_once)
    result = cli("case", "show", "NO-SUCH-CASE")
    assert result.code == 128 + 15 and result.stderr.strip() == "error: terminated (SIGTERM)", result
    assert "no case store" in str(calls[0])


def test_a_stop_after_loading_before_the_command_s_handlers_ends_with_its_line(tmp_path):
    """Between the command's loading and its handlers taking over, a stop was ignored: the
    command then ran to its end as if no stop had come."""
    script = ("import os, signal, sys\nsys.argv = ['fs2f', 'case', 'list']\nfrom forensic_s2f import cli\n"
              "real = cli.main\n"
              "def stopped_before_its_handlers(argv=None):\n    os.kill(os.getpid(), signal.SIGTERM)\n"
              "    real(argv)\n"
              "cli.main = stopped_before_its_handlers\nfrom forensic_s2f.entry import main\nmain()\n")
    ended = _python(script, tmp_path)
    assert ended.returncode == 143, ended
    assert ended.stderr == "error: terminated (SIGTERM) while fs2f was starting; nothing was done\n"


def test_a_stop_while_python_shuts_down_after_the_command_leaves_its_status(tmp_path):
    """Python sets a signal it has a handler for back to the default action as it shuts down: a
    stop then (about 3 in 100 stops sent as the command ended) killed the process with no line.
    Here stops come without pause from the moment the command has ended until the process is gone."""
    script = ("import os, signal, subprocess, sys, time\nsys.argv = ['fs2f', 'case', 'show', 'NONE']\n"
              "from forensic_s2f.entry import main\n"
              "try:\n    main()\nexcept SystemExit as ended:\n    code = ended.code\n"
              "subprocess.Popen(['sh', '-c', f'while kill -TERM {os.getpid()} 2>/dev/null; do :; done'],\n"
              "                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
              "time.sleep(0.3)\nsys.exit(code)\n")
    ended = _python(script, tmp_path)
    assert ended.returncode == 2 and ended.stderr.startswith("error: no case store"), ended


def test_a_stop_while_the_completed_run_waits_for_the_store_fails_the_run(cli, store_dir, tmp_path, monkeypatch):
    """A stop that came while the run's last record ('completed') waited for another command's
    lock on the store ended the wait and left the run 'running'. It is now recorded as failed."""
    import fcntl

    from conftest import write_tone

    from forensic_s2f.store.case_store import CaseStore

    assert cli("case", "add", "C1", write_tone(tmp_path / "a.wav"), "-e", "Ann").code == 0
    finish_run = CaseStore.finish_run
    waited = []

    def finish_while_another_holds_the_lock(self, run_id, examiner, status, error=""):
        if status == "completed" and not waited:
            holder = open(store_dir / ".fs2f.lock", "a+")  # (another open file: another command's lock)
            fcntl.flock(holder, fcntl.LOCK_EX)
            waited.append(status)
            threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGTERM)).start()
            threading.Timer(0.6, holder.close).start()  # (closing the file lets go of its lock)
        return finish_run(self, run_id, examiner, status, error)

    monkeypatch.setattr(CaseStore, "finish_run", finish_while_another_holds_the_lock)
    result = cli("case", "analyze", "C1", "-e", "Ann")
    assert waited == ["completed"]
    assert result.code == 143 and result.stderr == RUN_1_FAILED_BY_SIGTERM
    shown = json.loads(cli("case", "show", "C1", "--json").stdout)
    assert [(run["status"], run["error"]) for run in shown["runs"]] == [("failed", "Terminated: SIGTERM")]
    assert cli("audit", "verify", "C1").code == 0


def _stop_once_written(monkeypatch, method: str):
    """Make CaseStore.`method` send this process SIGTERM once it has written, as a stop that came
    during its write would be raised (held until the write ends); returns the method as it was."""
    from forensic_s2f.store.case_store import CaseStore

    original = getattr(CaseStore, method)

    def then_stop(self, *args, **kwargs):
        value = original(self, *args, **kwargs)
        os.kill(os.getpid(), signal.SIGTERM)
        (lambda: None)()  # (a call: Python runs the pending handler here)
        return value

    monkeypatch.setattr(CaseStore, method, then_stop)
    return original


def test_a_stop_as_the_run_is_recorded_completed_says_the_run_was_completed(cli, store_dir, tmp_path, monkeypatch):
    """A stop that came while the run's last record was written waited for the write, then ended
    the command with only "error: terminated", though the run was complete: the line now says so,
    and the run stays completed (no 'failed' record after its 'completed' one)."""
    from conftest import write_tone

    assert cli("case", "add", "C1", write_tone(tmp_path / "a.wav"), "-e", "Ann").code == 0
    _stop_once_written(monkeypatch, "finish_run")
    result = cli("case", "analyze", "C1", "-e", "Ann")
    assert result.code == 143
    assert result.stderr == "error: terminated (SIGTERM) after run 1 of case C1 was recorded as completed\n"
    shown = json.loads(cli("case", "show", "C1", "--json").stdout)
    assert [(run["status"], run["error"]) for run in shown["runs"]] == [("completed", "")]
    log = json.loads(cli("audit", "log", "C1", "--json").stdout)
    assert [e["details"]["status"] for e in log if e["action"] == "analysis-end"] == ["completed"]
    assert cli("audit", "verify", "C1").code == 0


def test_a_stop_as_evidence_is_recorded_says_it_was_recorded(cli, store_dir, tmp_path, monkeypatch):
    from conftest import write_tone

    from forensic_s2f.store.case_store import CaseStore

    ingest = _stop_once_written(monkeypatch, "ingest")
    result = cli("case", "add", "C1", write_tone(tmp_path / "a.wav"), "-e", "Ann")
    assert result.code == 143 and result.stderr == "error: terminated (SIGTERM) after evidence 1 was recorded in case C1\n"
    monkeypatch.setattr(CaseStore, "ingest", ingest)
    shown = json.loads(cli("case", "show", "C1", "--json").stdout)
    assert [e["id"] for e in shown["evidence"]] == [1]


def test_a_stop_as_a_verification_is_logged_says_it_was_logged(cli, store_dir, tmp_path, monkeypatch):
    """The auditor sees no result, but the log holds the verification: the line says so."""
    from conftest import write_tone

    from forensic_s2f.store.case_store import CaseStore

    assert cli("case", "add", "C1", write_tone(tmp_path / "a.wav"), "-e", "Ann").code == 0
    record_event = _stop_once_written(monkeypatch, "record_event")
    result = cli("audit", "verify", "C1", "-e", "Auditor A")
    monkeypatch.setattr(CaseStore, "record_event", record_event)
    assert result.code == 143 and result.stdout == ""
    assert result.stderr == ("error: terminated (SIGTERM) after the verification of case C1 was logged as event 3 "
                             "(0 findings; `fs2f audit log C1` shows it)\n")
    log = json.loads(cli("audit", "log", "C1", "--json").stdout)
    assert (log[-1]["seq"], log[-1]["action"], log[-1]["details"]["findings"]) == (3, "verify", 0)
